package alert

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// smtpServer is a minimal SMTP server on loopback that accepts messages and
// hands each one (envelope and data) to got.
type smtpServer struct {
	ln  net.Listener
	got chan smtpMessage
}

type smtpMessage struct {
	from string
	to   []string
	data string
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, got: make(chan smtpMessage, 4)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *smtpServer) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	say := func(line string) { io.WriteString(conn, line+"\r\n") }
	say("220 localhost test SMTP")
	var m smtpMessage
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		cmd := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 localhost")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m = smtpMessage{from: strings.Trim(line[len("MAIL FROM:"):], "<> ")}
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			m.to = append(m.to, strings.Trim(line[len("RCPT TO:"):], "<> "))
			say("250 ok")
		case cmd == "DATA":
			say("354 end with .")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			m.data = b.String()
			s.got <- m
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

func failedRun() *grpipe.RunSummary {
	return &grpipe.RunSummary{Run: grpipe.Run{RunID: "scheduled__2026-01-01T00:00:00.000000Z", DAGID: grpipe.DAGID, State: grpipe.StateFailed,
		RunType: grpipe.RunScheduled, Error: "GoodReadsETLJob: boom"},
		Tasks: []grpipe.TaskSummary{{TaskID: "Begin_execution", State: grpipe.StateSuccess}, {TaskID: "GoodReadsETLJob", State: grpipe.StateFailed, Error: "boom", Tries: 3}}}
}

func TestFailedRunAlertsWebhookAndEmail(t *testing.T) {
	posted := make(chan Alert, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		var a Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		posted <- a
	}))
	defer hook.Close()
	mail := startSMTP(t)

	n := New(Options{WebhookURL: hook.URL + "/hooks/secret", SMTPAddr: mail.ln.Addr().String(), From: "grpipe@example.org",
		To: []string{"oncall@example.org", "data@example.org"}}, nil)
	n.RunEnded(context.Background(), failedRun())

	select {
	case a := <-posted:
		if a.Event != "run_failed" || a.RunID != failedRun().RunID || a.Error != "GoodReadsETLJob: boom" || a.RunType != "scheduled" {
			t.Errorf("webhook payload %+v", a)
		}
		if len(a.FailedTasks) != 1 || a.FailedTasks[0].TaskID != "GoodReadsETLJob" || a.FailedTasks[0].Tries != 3 {
			t.Errorf("failed tasks %+v", a.FailedTasks)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook POST")
	}
	select {
	case m := <-mail.got:
		if m.from != "grpipe@example.org" || strings.Join(m.to, ",") != "oncall@example.org,data@example.org" {
			t.Errorf("envelope from %q to %v", m.from, m.to)
		}
		for _, want := range []string{"Subject: [grpipe] goodreads_pipeline: run scheduled__2026-01-01T00:00:00.000000Z failed", "error: GoodReadsETLJob: boom", `"event": "run_failed"`} {
			if !strings.Contains(m.data, want) {
				t.Errorf("email lacks %q:\n%s", want, m.data)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no email")
	}
}

func TestNoAlertForSuccessAndRetryOnlyWhenAsked(t *testing.T) {
	posted := make(chan Alert, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a Alert
		_ = json.NewDecoder(r.Body).Decode(&a)
		posted <- a
	}))
	defer hook.Close()

	ok := failedRun()
	ok.State = grpipe.StateSuccess
	New(Options{WebhookURL: hook.URL}, nil).RunEnded(context.Background(), ok)
	New(Options{WebhookURL: hook.URL}, nil).TaskRetry(context.Background(), grpipe.Run{RunID: "r"}, "GoodReadsETLJob", 1, errors.New("down"))
	New(Options{WebhookURL: hook.URL, OnRetry: true}, nil).TaskRetry(context.Background(), grpipe.Run{RunID: "r"}, "GoodReadsETLJob", 1, errors.New("down"))
	select {
	case a := <-posted:
		if a.Event != "task_retry" || a.TaskID != "GoodReadsETLJob" || a.Try != 1 || a.Error != "down" {
			t.Errorf("retry payload %+v", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no retry alert")
	}
	if len(posted) != 0 {
		t.Errorf("unexpected alerts: %d more", len(posted))
	}
}

func TestDeliveryErrorsNameTheChannel(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer hook.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	err := New(Options{WebhookURL: hook.URL + "/T000/secret", SMTPAddr: dead, From: "a@b", To: []string{"c@d"}, Timeout: 2 * time.Second}, nil).
		Send(context.Background(), Alert{Event: "run_failed"})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "alert webhook") || !strings.Contains(msg, "500") || !strings.Contains(msg, "alert email via "+dead) {
		t.Errorf("error %q", msg)
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("error leaks the webhook path: %q", msg)
	}
}
