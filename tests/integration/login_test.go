package integration

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/bcrypt"
)

const (
	testUser     = "alice"
	testPassword = "correct horse"
)

// startAuthRegistry starts a docker-registry on loopback that wants a
// username and password (htpasswd, bcrypt), over plain HTTP: the
// distribution registry accepts basic auth without TLS.
func startAuthRegistry(t *testing.T) *registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatal("docker-registry is not installed: tests/harness/lib.sh installs it (run make integration as root)")
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(testUser+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := &registry{addr: addr, data: filepath.Join(dir, "data")}
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\nauth:\n  htpasswd:\n    realm: urun-test\n    path: %s\n", r.data, addr, htpasswd)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Up when it refuses an anonymous client.
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("registry on %s did not come up: %v\n%s", addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pushAuth copies a test image into the registry with credentials.
func (r *registry) pushAuth(t *testing.T, image, name string) string {
	t.Helper()
	dst := r.addr + "/" + name
	out, err := exec.Command("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", testUser+":"+testPassword,
		"oci:"+filepath.Join(imagesDir, image), "docker://"+dst).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy %s %s: %v\n%s", image, dst, err, out)
	}
	return dst
}

// privateHome gives the test its own HOME (for ~/.config/containers),
// XDG_RUNTIME_DIR (for auth.json) and image store, and a proxy that
// counts connections: urun (image/v5) sends every request for a host
// that is not loopback to it, so a count above zero means something
// tried to reach the network outside the machine (such as docker.io).
func privateHome(t *testing.T) (env []string, home string) {
	t.Helper()
	env = storeEnv(t)
	home = t.TempDir()
	run := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		if n := hits.Load(); n > 0 {
			t.Errorf("%d connection(s) went to the proxy: something contacted a host that is not loopback", n)
		}
	})
	proxy := "http://" + l.Addr().String()
	env = append(env, "HOME="+home, "XDG_RUNTIME_DIR="+run, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"HTTPS_PROXY="+proxy, "HTTP_PROXY="+proxy, "https_proxy="+proxy, "http_proxy="+proxy, "NO_PROXY=", "no_proxy=")
	return env, home
}

// envValue returns NAME's value in env.
func envValue(env []string, name string) string {
	v := ""
	for _, e := range env {
		if k, val, ok := strings.Cut(e, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// oneLine requires a failure with exit 125 and one line on stderr that
// contains every want.
func oneLine(t *testing.T, r result, what string, want ...string) {
	t.Helper()
	if r.code != 125 || len(lines(r.stderr)) != 1 {
		t.Fatalf("%s: want exit 125 and one line: %s", what, r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s: the error does not mention %q: %s", what, w, r.stderr)
		}
	}
}

func loginWith(t *testing.T, env []string, password string, args ...string) result {
	t.Helper()
	cmd := exec.Command(urunBin, append([]string{"login", "-u", testUser, "--password-stdin", "--tls-verify=false"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(password + "\n")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLoginPullLogout(t *testing.T) {
	reg := startAuthRegistry(t)
	ref := reg.pushAuth(t, "busybox", "team/app:1")
	env, _ := privateHome(t)
	authFile := filepath.Join(envValue(env, "XDG_RUNTIME_DIR"), "containers", "auth.json")

	r := urunEnv(t, env, "pull", "-q", "--tls-verify=false", ref)
	oneLine(t, r, "pull without credentials", "urun login "+reg.addr)

	r = loginWith(t, env, "wrong password", reg.addr)
	oneLine(t, r, "login with a wrong password", reg.addr, "wrong username or password")
	if _, err := os.Stat(authFile); err == nil {
		b, _ := os.ReadFile(authFile)
		t.Errorf("a refused login wrote %s:\n%s", authFile, b)
	}

	if r := loginWith(t, env, testPassword, reg.addr); r.code != 0 || r.stdout != "Login Succeeded!\n" {
		t.Fatalf("login: %s", r)
	}
	b, err := os.ReadFile(authFile)
	if err != nil || !strings.Contains(string(b), reg.addr) {
		t.Fatalf("auth.json after login: %v\n%s", err, b)
	}
	if out := mustRunEnv(t, env, "login", "--get-login", reg.addr).stdout; out != testUser+"\n" {
		t.Errorf("urun login --get-login printed %q", out)
	}
	// podman reads the same file.
	pod := exec.Command("podman", "login", "--get-login", reg.addr)
	pod.Env = append(os.Environ(), env...)
	if out, err := pod.Output(); err != nil || string(out) != testUser+"\n" {
		t.Errorf("podman login --get-login: %v: %q", err, out)
	}

	mustRunEnv(t, env, "pull", "-q", "--tls-verify=false", ref)
	if out := mustRunEnv(t, env, "run", "--pull=never", ref, "echo", "ok").stdout; out != "ok\n" {
		t.Errorf("run of the pulled image printed %q", out)
	}
	mustRunEnv(t, env, "rmi", ref)

	if r := mustRunEnv(t, env, "logout", reg.addr); r.stdout != "Removed login credentials for "+reg.addr+"\n" {
		t.Errorf("logout printed %q", r.stdout)
	}
	if b, _ := os.ReadFile(authFile); strings.Contains(string(b), reg.addr) {
		t.Errorf("auth.json still has %s after logout:\n%s", reg.addr, b)
	}
	oneLine(t, urunEnv(t, env, "logout", reg.addr), "second logout", "not logged in to "+reg.addr)
	oneLine(t, urunEnv(t, env, "pull", "-q", "--tls-verify=false", ref), "pull after logout", "urun login "+reg.addr)
	if list := listImages(t, env); len(list) != 0 {
		t.Errorf("failed pulls left images: %+v", list)
	}
}

// --authfile and REGISTRY_AUTH_FILE name another credentials file, for
// login and for pull, as with podman.
func TestLoginAuthFile(t *testing.T) {
	reg := startAuthRegistry(t)
	ref := reg.pushAuth(t, "busybox", "team/app:1")
	env, home := privateHome(t)
	file := filepath.Join(home, "creds.json")
	if r := loginWith(t, env, testPassword, "--authfile", file, reg.addr); r.code != 0 {
		t.Fatalf("login --authfile: %s", r)
	}
	if _, err := os.Stat(filepath.Join(envValue(env, "XDG_RUNTIME_DIR"), "containers", "auth.json")); err == nil {
		t.Error("login --authfile also wrote the default auth.json")
	}
	oneLine(t, urunEnv(t, env, "pull", "-q", "--tls-verify=false", ref), "pull without REGISTRY_AUTH_FILE", "urun login")
	mustRunEnv(t, append(env, "REGISTRY_AUTH_FILE="+file), "pull", "-q", "--tls-verify=false", ref)
	mustRunEnv(t, env, "logout", "--authfile", file, "--all")
	if b, _ := os.ReadFile(file); strings.Contains(string(b), reg.addr) {
		t.Errorf("logout --all left %s in %s:\n%s", reg.addr, file, b)
	}
}

// Credentials docker wrote (~/.docker/config.json) and ones podman keeps
// in $XDG_CONFIG_HOME/containers/auth.json are used without urun login,
// for pull and push.
func TestCredentialsFromDockerAndPodmanFiles(t *testing.T) {
	reg := startAuthRegistry(t)
	ref := reg.pushAuth(t, "busybox", "team/app:1")
	auths := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.addr, base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword)))
	for _, where := range []string{".docker/config.json", ".config/containers/auth.json"} {
		t.Run(where, func(t *testing.T) {
			env, home := privateHome(t)
			oneLine(t, urunEnv(t, env, "pull", "-q", "--tls-verify=false", ref), "pull before the file exists", "urun login")
			file := filepath.Join(home, where)
			if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(auths), 0o600); err != nil {
				t.Fatal(err)
			}
			mustRunEnv(t, env, "pull", "-q", "--tls-verify=false", ref)
			mustRunEnv(t, env, "push", "-q", "--tls-verify=false", ref, reg.addr+"/team/copy:1")
		})
	}
}

// writeRegistriesConf writes the test user's registries.conf: search
// registries in order, each marked insecure (plain HTTP), never docker.io.
func writeRegistriesConf(t *testing.T, home, mode string, regs ...string) {
	t.Helper()
	var b strings.Builder
	quoted := make([]string, len(regs))
	for i, r := range regs {
		quoted[i] = fmt.Sprintf("%q", r)
	}
	fmt.Fprintf(&b, "unqualified-search-registries = [%s]\n", strings.Join(quoted, ", "))
	if mode != "" {
		fmt.Fprintf(&b, "short-name-mode = %q\n", mode)
	}
	for _, r := range regs {
		fmt.Fprintf(&b, "\n[[registry]]\nlocation = %q\ninsecure = true\n", r)
	}
	dir := filepath.Join(home, ".config", "containers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "registries.conf"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The test images' short names are not in Debian's shortnames.conf, so
// they resolve through the search registries only.
const shortName = "urun-sn-app"

func TestShortNameSearchRegistry(t *testing.T) {
	reg := startRegistry(t)
	reg.push(t, "busybox", shortName+":latest")
	env, home := privateHome(t)
	writeRegistriesConf(t, home, "", reg.addr)

	// insecure = true stands for --tls-verify=false.
	mustRunEnv(t, env, "pull", "-q", shortName)
	list := listImages(t, env)
	if len(list) != 1 || list[0].Name != reg.addr+"/"+shortName+":latest" {
		t.Fatalf("images after pull %s: %+v", shortName, list)
	}
	if out := mustRunEnv(t, env, "run", "--pull=never", shortName, "echo", "ok").stdout; out != "ok\n" {
		t.Errorf("run %s printed %q", shortName, out)
	}
	// The answer is cached with the state of registries.conf; editing it
	// makes urun ask again: with another search registry the local image
	// is no longer what the short name means.
	if _, err := os.Stat(filepath.Join(envValue(env, "XDG_DATA_HOME"), "urun", "shortnames.json")); err != nil {
		t.Errorf("no short-name cache after a lookup: %v", err)
	}
	writeRegistriesConf(t, home, "", "127.0.0.1:1")
	oneLine(t, urunEnv(t, env, "run", "--pull=never", shortName, "true"), "run after registries.conf changed",
		"urun pull", "127.0.0.1:1/"+shortName+":latest")
	writeRegistriesConf(t, home, "", reg.addr)
	mustRunEnv(t, env, "run", "--pull=never", shortName+":latest", "true")
}

// With two search registries, the image is found in the second, locally
// and when pulling (podman's permissive mode tries each in order).
func TestShortNameSecondRegistry(t *testing.T) {
	empty := startRegistry(t)
	reg := startRegistry(t)
	reg.push(t, "busybox", "tools/"+shortName+":2")
	env, home := privateHome(t)
	writeRegistriesConf(t, home, "permissive", empty.addr, reg.addr)

	// run pulls on first use, from the second registry.
	if out := mustRunEnv(t, env, "run", "tools/"+shortName+":2", "echo", "ok").stdout; out != "ok\n" {
		t.Errorf("run printed %q", out)
	}
	list := listImages(t, env)
	if len(list) != 1 || list[0].Name != reg.addr+"/tools/"+shortName+":2" {
		t.Fatalf("images after run: %+v", list)
	}
	mustRunEnv(t, env, "run", "--pull=never", "tools/"+shortName+":2", "true")

	// A name that neither has: one line naming both registries.
	oneLine(t, urunEnv(t, env, "pull", "-q", "nothing-here"), "pull of a missing short name", empty.addr, reg.addr)
}

// In enforcing mode, an ambiguous short name is an error that lists the
// candidates (podman asks on a terminal and fails without one).
func TestShortNameEnforcing(t *testing.T) {
	one := startRegistry(t)
	two := startRegistry(t)
	two.push(t, "busybox", shortName+":latest")
	env, home := privateHome(t)
	writeRegistriesConf(t, home, "enforcing", one.addr, two.addr)
	r := urunEnv(t, env, "pull", "-q", shortName)
	oneLine(t, r, "ambiguous pull", "ambiguous", one.addr+"/"+shortName+":latest", two.addr+"/"+shortName+":latest")
	if list := listImages(t, env); len(list) != 0 {
		t.Errorf("an ambiguous pull stored images: %+v", list)
	}
	// A full name is not ambiguous.
	mustRunEnv(t, env, "pull", "-q", two.addr+"/"+shortName)
}

// On a terminal, enforcing mode asks which registry is meant and, as
// podman, records the answer in the user's short-name-aliases.conf, so
// the name is not ambiguous afterwards (for podman either).
func TestShortNamePrompt(t *testing.T) {
	one := startRegistry(t)
	two := startRegistry(t)
	two.push(t, "busybox", shortName+":latest")
	env, home := privateHome(t)
	writeRegistriesConf(t, home, "enforcing", one.addr, two.addr)

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	cmd := exec.Command(urunBin, "pull", "-q", shortName)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	out, err := readUntil(ptmx, "Pull which one?", 30*time.Second)
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("no question on the terminal: %v\n%s", err, out)
	}
	if !strings.Contains(out, "2) "+two.addr+"/"+shortName+":latest") {
		t.Errorf("the question does not list %s:\n%s", two.addr, out)
	}
	ptmx.Write([]byte("2\n"))
	rest, _ := readUntil(ptmx, "\x00never", 30*time.Second)
	if err := <-done; err != nil {
		t.Fatalf("pull after the answer: %v\n%s%s", err, out, rest)
	}
	list := listImages(t, env)
	if len(list) != 1 || list[0].Name != two.addr+"/"+shortName+":latest" {
		t.Fatalf("images after the answer: %+v", list)
	}
	aliases, err := os.ReadFile(filepath.Join(home, ".cache", "containers", "short-name-aliases.conf"))
	if err != nil || !strings.Contains(string(aliases), two.addr+"/"+shortName) {
		t.Fatalf("the answer was not recorded as an alias: %v\n%s", err, aliases)
	}
	// Without a terminal now, the alias decides: no ambiguity.
	mustRunEnv(t, env, "pull", "-q", shortName)
	mustRunEnv(t, env, "run", "--pull=never", shortName, "true")
}

// Without unqualified-search-registries a short name still means
// docker.io (urun's default; podman fails) — checked locally only: the
// tests never reach docker.io.
func TestShortNameDefaultDockerIO(t *testing.T) {
	reg := startRegistry(t)
	ref := reg.push(t, "busybox", shortName+":latest")
	env, home := privateHome(t)
	dir := filepath.Join(home, ".config", "containers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "registries.conf"), []byte("# no search registries\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRunEnv(t, env, "pull", "-q", "--tls-verify=false", ref)
	mustRunEnv(t, env, "tag", ref, "docker.io/library/"+shortName+":latest")
	mustRunEnv(t, env, "rmi", ref)
	mustRunEnv(t, env, "run", "--pull=never", shortName, "true")
}
