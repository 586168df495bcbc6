package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	index := get(t, h, "/")
	tests := []struct {
		name, method, path string
		status             int
		ctype              string
		index              bool // the answer is index.html
	}{
		{"root", "GET", "/", 200, "text/html; charset=utf-8", true},
		{"client route", "GET", "/accounts", 200, "text/html; charset=utf-8", true},
		{"account with a dot and a space", "GET", "/accounts/Globex%20Corp.", 200, "text/html; charset=utf-8", true},
		{"deep client route", "GET", "/accounts/ACME/anything", 200, "text/html; charset=utf-8", true},
		{"favicon.ico falls back too", "GET", "/favicon.ico", 200, "text/html; charset=utf-8", true},
		{"head", "HEAD", "/service", 200, "text/html; charset=utf-8", false},
		{"stylesheet", "GET", "/assets/css/app.css", 200, "text/css; charset=utf-8", false},
		{"module", "GET", "/assets/js/app.js", 200, "text/javascript; charset=utf-8", false},
		{"page module", "GET", "/assets/js/pages/account.js", 200, "text/javascript; charset=utf-8", false},
		{"font", "GET", "/assets/fonts/inter-latin-wght.woff2", 200, "font/woff2", false},
		{"icon", "GET", "/assets/favicon.svg", 200, "image/svg+xml", false},
		{"missing asset is not the index", "GET", "/assets/js/missing.js", 404, "", false},
		{"post", "POST", "/", 405, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("%s %s: got status %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			}
			if tc.ctype != "" && rec.Header().Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type: got %q, want %q", rec.Header().Get("Content-Type"), tc.ctype)
			}
			if tc.index && rec.Body.String() != index {
				t.Errorf("body: got %.60q, want index.html", rec.Body.String())
			}
			if tc.status == 200 && rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q, want nosniff", rec.Header().Get("X-Content-Type-Options"))
			}
		})
	}
}

func TestHandlerSecurityAndCaching(t *testing.T) {
	h := Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/accounts", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "font-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/assets/js/app.js", nil))
	etag := rec.Header().Get("ETag")
	if etag == "" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("app.js: got ETag %q and Cache-Control %q, want an ETag and no-cache", etag, rec.Header().Get("Cache-Control"))
	}
	req := httptest.NewRequest("GET", "/assets/js/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("revalidation with the ETag: got %d, want 304", rec.Code)
	}
}

// TestAssetsStayLocal: the dashboard loads nothing from another origin, and
// every file its HTML, CSS and modules refer to is embedded.
func TestAssetsStayLocal(t *testing.T) {
	remote := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	// The SVG namespace is a name, not an address anything fetches.
	svgNS := regexp.MustCompile(`http://www\.w3\.org/2000/svg`)
	ref := regexp.MustCompile(`(?m)(?:^import\s[^;]*?from\s*"([^"]+)")|(?:\bimport\(\s*"([^"]+)"\s*\))|(?:(?:href|src)="([^"]+)")|(?:url\((/[^)]+)\))`)
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ext := path.Ext(p)
		if ext != ".html" && ext != ".js" && ext != ".css" {
			return nil
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		text := svgNS.ReplaceAllString(string(b), "")
		if m := remote.FindString(text); m != "" {
			t.Errorf("%s refers to another origin: %q", p, m)
		}
		for _, m := range ref.FindAllStringSubmatch(text, -1) {
			target := m[1] + m[2] + m[3] + m[4]
			if strings.HasPrefix(target, "data:") || strings.HasPrefix(target, "#") {
				continue
			}
			var file string
			switch {
			case strings.HasPrefix(target, "/assets/"):
				file = "static" + target
			case strings.HasPrefix(target, "./") || strings.HasPrefix(target, "../"):
				file = path.Join(path.Dir(p), target)
			case strings.HasPrefix(target, "/"):
				continue // a route of the dashboard or of the API
			default:
				t.Errorf("%s refers to %q: want a path under /assets/ or a relative module path", p, target)
				continue
			}
			if _, err := fs.Stat(static, file); err != nil {
				t.Errorf("%s refers to %q, which is not embedded", p, target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, h http.Handler, p string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: got %d, want 200", p, rec.Code)
	}
	return rec.Body.String()
}
