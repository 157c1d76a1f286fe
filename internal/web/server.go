package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Options configure the server.
type Options struct {
	// Addr is the listen address, e.g. 127.0.0.1:8080.
	Addr string
	// Token, when set, is required on every page and API call: as
	// "Authorization: Bearer <token>" or through the login form's cookie.
	Token string
	// Log receives request errors.
	Log *slog.Logger
	// Now returns the time (tests); nil means time.Now.
	Now func() time.Time
	// QueryTimeout bounds a statement of the SQL box and a page of the
	// warehouse explorer; 0 means 10s.
	QueryTimeout time.Duration
	// ExportRows bounds a CSV download of the explorer; 0 means 100,000.
	ExportRows int
}

// Validate refuses a non-loopback address without a token.
func (o Options) Validate() error {
	host, port, err := net.SplitHostPort(o.Addr)
	if err == nil {
		if p, perr := strconv.Atoi(port); perr != nil || p < 0 || p > 65535 {
			err = fmt.Errorf("port %q is not a number from 0 to 65535", port)
		}
	}
	if err != nil {
		return fmt.Errorf("%w: web address %q: %v (use host:port, e.g. 127.0.0.1:8080)", grpipe.ErrBadInput, o.Addr, err)
	}
	if o.Token != "" || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("%w: refusing to serve the web UI on %s without authentication: set a token in GRPIPE_WEB_TOKEN (or web.token in grpipe.yaml), or serve on 127.0.0.1", grpipe.ErrBadInput, o.Addr)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is the web UI and API.
type Server struct {
	b      Backend
	opts   Options
	tmpl   map[string]*template.Template
	mux    *http.ServeMux
	secret []byte // signs the session cookie
	log    *slog.Logger
}

// New returns a server over b.
func New(b Backend, opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{b: b, opts: opts, log: opts.Log, mux: http.NewServeMux()}
	if opts.Token != "" {
		m := hmac.New(sha256.New, []byte(opts.Token))
		m.Write([]byte("grpipe session v1"))
		s.secret = m.Sum(nil)
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) parseTemplates() error {
	funcs := template.FuncMap{
		"stateColor":  StateColor,
		"fmtTime":     fmtTime,
		"fmtDur":      fmtDur,
		"states":      func() []StateInfo { return States },
		"pathEscape":  url.PathEscape,
		"queryEscape": url.QueryEscape,
		"add":         func(a, b int) int { return a + b },
	}
	for k, f := range chartFuncs {
		funcs[k] = f
	}
	pages, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return err
	}
	s.tmpl = map[string]*template.Template{}
	for _, p := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", p)
		if err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		s.tmpl[name] = t
	}
	return nil
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:")
	w.Header().Set("Referrer-Policy", "same-origin")
	if !s.authorized(r) && !publicPath(r.URL.Path) {
		if isAPI(r) {
			writeError(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token>")
			return
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if isStateChanging(r.Method) && !publicPath(r.URL.Path) {
		if err := s.checkCSRF(r); err != nil {
			if isAPI(r) {
				writeError(w, http.StatusForbidden, err.Error())
			} else {
				http.Error(w, err.Error(), http.StatusForbidden)
			}
			return
		}
	}
	s.ensureCSRFCookie(w, r)
	s.mux.ServeHTTP(w, r)
}

func publicPath(p string) bool { return p == "/login" || strings.HasPrefix(p, "/static/") }

func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/health"
}

func isStateChanging(m string) bool {
	return m == http.MethodPost || m == http.MethodPatch || m == http.MethodPut || m == http.MethodDelete
}

const (
	sessionCookie = "grpipe_session"
	csrfCookie    = "grpipe_csrf"
	csrfField     = "csrf_token"
	csrfHeader    = "X-CSRF-Token"
)

// authorized reports whether r carries the token (or no token is configured).
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" {
		return true
	}
	if bearerOK(r, s.opts.Token) {
		return true
	}
	c, err := r.Cookie(sessionCookie)
	return err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(hex.EncodeToString(s.secret))) == 1
}

func bearerOK(r *http.Request, token string) bool {
	h := r.Header.Get("Authorization")
	got, ok := strings.CutPrefix(h, "Bearer ")
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}

// checkCSRF accepts a state-changing request that carries the token in its
// Authorization header (not sent by browsers on their own), or the
// double-submit CSRF token (form field or header equal to the CSRF cookie),
// or, with no token configured, a JSON API call from no other origin (which a
// browser cannot make cross-site without a CORS preflight this server never
// grants).
func (s *Server) checkCSRF(r *http.Request) error {
	if s.opts.Token != "" && bearerOK(r, s.opts.Token) {
		return nil
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return fmt.Errorf("cross-origin request refused (origin %s)", origin)
		}
	}
	c, err := r.Cookie(csrfCookie)
	if err == nil && c.Value != "" {
		sent := r.Header.Get(csrfHeader)
		if sent == "" && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			sent = r.PostFormValue(csrfField)
		}
		if subtle.ConstantTimeCompare([]byte(sent), []byte(c.Value)) == 1 {
			return nil
		}
	}
	if s.opts.Token == "" && isAPI(r) && strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") && r.Header.Get("Cookie") == "" {
		return nil
	}
	return fmt.Errorf("missing or wrong CSRF token: reload the page and try again")
}

// ensureCSRFCookie gives the browser a CSRF token to echo in forms.
func (s *Server) ensureCSRFCookie(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(csrfCookie); err == nil && c.Value != "" {
		return
	}
	tok := newToken()
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: tok})
}

func csrfToken(r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil {
		return c.Value
	}
	return ""
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	next := r.FormValue("next")
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/dags"
	}
	if s.opts.Token == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	data := map[string]any{"Next": next, "Error": ""}
	if r.Method == http.MethodPost {
		if subtle.ConstantTimeCompare([]byte(r.PostFormValue("token")), []byte(s.opts.Token)) == 1 {
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: hex.EncodeToString(s.secret), Path: "/",
				HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: 12 * 3600})
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		data["Error"] = "wrong token"
	}
	s.render(w, r, "login", "Log in", data)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
