# urun — see README.md. `make demo` and `make test` work on a fresh Debian 12
# machine, as root (they install what is missing) or as an ordinary user who
# already has subordinate ids.

GO       ?= go
TAGS     := containers_image_openpgp,exclude_graphdriver_btrfs
COMMIT   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X main.commit=$(COMMIT)
PREFIX   ?= /usr/local
export GOFLAGS := -buildvcs=false

.PHONY: all flag-table build demo test lint unit integration vm-test images install clean fuzz bench bench-quick conformance runc-suite podman-suite

all: build

# urun and urun-init are static (no cgo: no dynamic loader, no libc at
# start), urun-init also stripped: every container start and every OCI
# call pays for their start-up (DESIGN.md, start-up budget;
# docs/BENCHMARKS.md, issue 25 fourth round). Users from NSS (LDAP) are
# looked up through getent (userns/hostuser.go).
build:
	CGO_ENABLED=0 $(GO) build -tags $(TAGS) -trimpath -ldflags "$(LDFLAGS)" -o bin/urun ./cmd/urun
	$(GO) build -tags $(TAGS) -trimpath -o bin/urun-image ./cmd/urun-image
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o bin/urun-init ./cmd/urun-init

# docs/RUN-FLAGS.md from run's flag set (cmd/urun/flagtable_test.go checks it).
flag-table: build
	bin/urun __flag-table run > docs/RUN-FLAGS.md

images:
	$(GO) run ./tests/mkimage -out _build/images

demo:
	bash tests/harness/demo.sh

# The demo runs first: on a fresh machine (CI) it must install all it uses.
# podman-suite: 5.5 min on a quiet machine, 14 min with six other builds (docs/PODMAN.md).
test: lint unit demo integration runc-suite vm-test podman-suite

lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
	$(GO) vet -tags $(TAGS) ./...
	$(GO) tool staticcheck -tags $(TAGS) ./...

unit:
	$(GO) test -tags $(TAGS) -count=1 ./...

integration:
	bash tests/harness/integration.sh

# The cgroup suite in a Debian 12 VM with systemd (tests/vm/run.sh); the
# first run as root builds and caches the image under _build/vm.
vm-test:
	bash tests/vm/run.sh

# runc v1.1.5's own integration suite against runc and urun side by side,
# rootless, both modes; gates on tests/runc/allow.tsv (docs/CONFORMANCE.md).
runc-suite:
	bash tests/runc/run.sh

# podman 4.3.1's own system tests with urun and runc side by side (as
# root: it runs them as an unprivileged user; docs/PODMAN.md).
podman-suite:
	bash tests/podman/run.sh

# The OCI runtime-tools validation suite (not part of test): as root.
conformance:
	bash tests/conformance/run.sh

fuzz:
	bash tests/harness/fuzz.sh

# Not part of `make test`: timings belong in benchmarks (docs/BENCHMARKS.md).
bench:
	bash bench/bench.sh

# Each benchmark briefly: checks that the harness still runs, measures nothing.
bench-quick:
	BENCH_QUICK=1 bash bench/bench.sh

install: build
	install -D -m 0755 bin/urun $(DESTDIR)$(PREFIX)/bin/urun
	install -D -m 0755 bin/urun-init $(DESTDIR)$(PREFIX)/bin/urun-init
	install -D -m 0755 bin/urun-image $(DESTDIR)$(PREFIX)/bin/urun-image

clean:
	rm -rf bin _build
