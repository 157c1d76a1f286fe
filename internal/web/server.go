package web

import (
	"crypto/rand"
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
	"unicode"

	grpipe "github.com/grpipe/grpipe"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Options configure the server.
type Options struct {
	// Addr is the listen address, e.g. 127.0.0.1:8080.
	Addr string
	// Token, when set, is required on every page and API call: as
	// "Authorization: Bearer <token>" or through the login form's session.
	Token string
	// Hosts are further host names the UI is reached by (a name in /etc/hosts,
	// a proxy's). Without a token, a request whose Host header names neither
	// the listen address, a loopback address, localhost, nor one of these is
	// refused: a web page cannot reach the UI by rebinding its own name to
	// 127.0.0.1.
	Hosts []string
	// SecureCookies marks the session and CSRF cookies Secure on plain-HTTP
	// requests too: set it when a proxy in front serves the UI over HTTPS.
	// Requests that arrive over TLS always get Secure cookies.
	SecureCookies bool
	// SessionTTL is how long a login lasts; zero means 12 hours.
	SessionTTL time.Duration
	// Metrics, when set, is served at /metrics (Prometheus), behind the
	// token like every page: the scheduler's metrics when it runs in this process.
	Metrics http.Handler
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

// Validate refuses a malformed address, a non-loopback address without a
// token, and a token that is blank or has white space around it.
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
	if err := checkToken(o.Token); err != nil {
		return err
	}
	for _, h := range o.Hosts {
		if h == "" || strings.ContainsAny(h, "/ \t@") {
			return fmt.Errorf("%w: web host name %q: give a bare host name such as grpipe.internal", grpipe.ErrBadInput, h)
		}
	}
	if o.Token != "" || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("%w: refusing to serve the web UI on %s without authentication: set a token in GRPIPE_WEB_TOKEN (or web.token in grpipe.yaml), or serve on 127.0.0.1", grpipe.ErrBadInput, o.Addr)
}

// checkToken refuses a token that is set but blank, or that has white space
// or control characters around it (a copy-paste accident that would make it
// unusable, or easy to guess).
func checkToken(tok string) error {
	if tok == "" {
		return nil
	}
	if strings.TrimSpace(tok) == "" {
		return fmt.Errorf("%w: the web token (GRPIPE_WEB_TOKEN, web.token) is blank: set a real secret, e.g. the output of `openssl rand -hex 16`, or unset it to serve on loopback without one", grpipe.ErrBadInput)
	}
	if strings.TrimFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) != tok {
		return fmt.Errorf("%w: the web token (GRPIPE_WEB_TOKEN, web.token) begins or ends with white space or a control character: remove it", grpipe.ErrBadInput)
	}
	return nil
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
	b        Backend
	opts     Options
	tmpl     map[string]*template.Template
	mux      *http.ServeMux
	log      *slog.Logger
	hosts    map[string]bool // host names accepted without a token, besides loopback ones
	sessions *sessions
	logins   *limiter // failed logins and bearer tokens, per client address
}

// New returns a server over b.
func New(b Backend, opts Options) (*Server, error) {
	if err := checkToken(opts.Token); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = defaultSessionTTL
	}
	s := &Server{b: b, opts: opts, log: opts.Log, mux: http.NewServeMux(), hosts: map[string]bool{},
		sessions: newSessions(opts.SessionTTL, opts.Now), logins: newLimiter(maxFailedLogins, failedLoginWindow, opts.Now)}
	if host, _, err := net.SplitHostPort(opts.Addr); err == nil && host != "" {
		s.hosts[normalHost(host)] = true
	}
	for _, h := range opts.Hosts {
		s.hosts[normalHost(h)] = true
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) parseTemplates() error {
	funcs := template.FuncMap{
		"stateColor":   StateColor,
		"fmtTime":      fmtTime,
		"fmtDur":       fmtDur,
		"states":       func() []StateInfo { return States },
		"pathEscape":   url.PathEscape,
		"queryEscape":  url.QueryEscape,
		"add":          func(a, b int) int { return a + b },
		"mappedName":   mappedName,
		"mappedAnchor": mappedAnchor,
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
	if s.opts.Token == "" && !s.hostAllowed(r.Host) {
		msg := fmt.Sprintf("host %q is not served here: open the UI by its address (e.g. http://%s/), or add the name to web.hosts (env GRPIPE_WEB_HOSTS)", r.Host, s.opts.Addr)
		if isAPI(r) {
			writeError(w, http.StatusForbidden, msg)
		} else {
			http.Error(w, msg, http.StatusForbidden)
		}
		return
	}
	switch s.authenticate(r) {
	case authOK:
	case authThrottled:
		s.tooManyFailures(w, r)
		return
	default:
		if !publicPath(r.URL.Path) {
			if isAPI(r) {
				writeError(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token>")
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
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

// hostAllowed reports whether a Host header names this server: a loopback
// address, localhost, the listen address or a configured name (any port).
func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = normalHost(host)
	if host == "" {
		return false
	}
	return isLoopback(host) || s.hosts[host]
}

// normalHost lower-cases a host name and drops IPv6 brackets and a final dot.
func normalHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
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

// authResult is what a request's credentials are worth.
type authResult int

const (
	authNone      authResult = iota // no credentials, or wrong ones
	authOK                          // the token, a live session, or no token configured
	authThrottled                   // too many failures from this client: not even checked
)

// authenticate checks r's bearer token or session cookie. A wrong bearer
// token counts as a failed login of the client's address; an address with
// too many failures is throttled before its credentials are looked at.
func (s *Server) authenticate(r *http.Request) authResult {
	if s.opts.Token == "" {
		return authOK
	}
	if got, ok := bearer(r); ok {
		if _, blocked := s.logins.blocked(clientAddr(r)); blocked {
			return authThrottled
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) == 1 {
			return authOK
		}
		s.logins.fail(clientAddr(r))
		return authNone
	}
	if c, err := r.Cookie(sessionCookie); err == nil && s.sessions.valid(c.Value) {
		return authOK
	}
	return authNone
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(got), ok
}

func bearerOK(r *http.Request, token string) bool {
	got, ok := bearer(r)
	return ok && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// clientAddr is the address failed logins are counted by: the peer's IPv4
// address, or its IPv6 /64 network (one host easily holds a whole /64).
func clientAddr(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		h = r.RemoteAddr
	}
	if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return h
}

func (s *Server) tooManyFailures(w http.ResponseWriter, r *http.Request) {
	wait, _ := s.logins.blocked(clientAddr(r))
	secs := int(wait.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	msg := fmt.Sprintf("too many failed logins from %s: try again in %d s", clientAddr(r), secs)
	if isAPI(r) {
		writeError(w, http.StatusTooManyRequests, msg)
		return
	}
	http.Error(w, msg, http.StatusTooManyRequests)
}

// secure reports whether cookies set in reply to r must be Secure.
func (s *Server) secure(r *http.Request) bool { return r.TLS != nil || s.opts.SecureCookies }

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
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/", HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
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

// safeNext returns the same-origin path a login may send the browser on to,
// or /dags. It accepts only an absolute path (with an optional query) that
// stays on this server however a browser reads it: no scheme, no host, no
// "//" or "/\" start, no back slashes or control characters anywhere (a
// browser drops tabs and new lines and reads a back slash as '/'), and returns it
// re-escaped from its parsed form.
func safeNext(next string) string {
	const home = "/dags"
	if next == "" || next[0] != '/' || len(next) > 2048 {
		return home
	}
	for _, c := range next {
		if c == '\\' || c < 0x20 || c == 0x7f || unicode.IsSpace(c) {
			return home
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || u.Fragment != "" {
		return home
	}
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(u.Path, "//") {
		return home
	}
	if u.RawQuery != "" {
		p += "?" + u.Query().Encode()
	}
	return p
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.FormValue("next"))
	if s.opts.Token == "" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	data := map[string]any{"Next": next, "Error": ""}
	if r.Method == http.MethodPost {
		addr := clientAddr(r)
		if _, blocked := s.logins.blocked(addr); blocked {
			s.tooManyFailures(w, r)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.PostFormValue("token")), []byte(s.opts.Token)) == 1 {
			if c, err := r.Cookie(sessionCookie); err == nil {
				s.sessions.revoke(c.Value) // a new login never keeps an older session id
			}
			id := s.sessions.create()
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: s.secure(r),
				SameSite: http.SameSiteStrictMode, MaxAge: int(s.opts.SessionTTL / time.Second)})
			http.Redirect(w, r, next, http.StatusSeeOther)
			return
		}
		s.logins.fail(addr)
		s.log.Warn("web: failed login", "client", addr)
		w.WriteHeader(http.StatusUnauthorized)
		data["Error"] = "wrong token"
	}
	s.render(w, r, "login", "Log in", data)
}

// handleLogout ends the session on the server (its id stops working at
// once, wherever it was copied) and clears the cookie.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.revoke(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
