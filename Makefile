# The test command (see README.md) and the benchmarks.

GO ?= go
MIN_COVERAGE ?= 85

.PHONY: test fmt vet race coverage examples bench

test: fmt vet race coverage examples

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

race:
	$(GO) test -race -count=1 ./...

# Statement coverage of the root package, measured without the race
# detector to keep the run short.
coverage:
	@tmp=$$(mktemp); trap 'rm -f $$tmp' EXIT; \
	$(GO) test -count=1 -short -coverprofile=$$tmp . >/dev/null && \
	pct=$$($(GO) tool cover -func=$$tmp | awk '/^total:/ {sub("%","",$$3); print $$3}') && \
	echo "root package coverage: $$pct% (minimum $(MIN_COVERAGE)%)" && \
	awk -v p="$$pct" -v m="$(MIN_COVERAGE)" 'BEGIN { exit !(p+0 >= m+0) }'

examples:
	$(GO) build -o /dev/null ./examples/...

bench:
	@./scripts/bench.sh
