# aitrack — `make run` starts the daemon with a local MLflow UI; `make test`
# installs what the tests need and runs them all with -race.
SHELL := /bin/bash
GO ?= go
PYTHON ?= python3
BIN := bin
VENV := .venv
# 3.18.0 is the newest MLflow, but its mlflow-skinny==3.18.0 dependency is not
# published on the package registry this project can reach; 3.17.2 is the
# newest release that installs.
MLFLOW_VERSION := 3.17.2
# The mlflow that `make run` uses: the one on PATH, else the project's venv.
MLFLOW := $(or $(shell command -v mlflow 2>/dev/null),$(CURDIR)/$(VENV)/bin/mlflow)
TEST_TIMEOUT ?= 25m

.PHONY: all build run test test-deps venv generate check-generate lint bench clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# A stamp per version, so that changing MLFLOW_VERSION reinstalls. The auth
# extra lets the tests run `mlflow server --app-name basic-auth`.
VENV_STAMP := $(VENV)/.mlflow-$(MLFLOW_VERSION)
$(VENV_STAMP):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "mlflow[auth]==$(MLFLOW_VERSION)"
	touch $@

venv: $(VENV_STAMP)

PROTOS := $(wildcard api/proto/aitrack/v1/*.proto)
PROTO_INCLUDE ?= /usr/include

$(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc: go.mod
	$(GO) build -o $(BIN)/ google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc

# Regenerates the committed *.pb.go from the .proto files.
generate: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc
	protoc -I api/proto -I $(PROTO_INCLUDE) \
		--plugin=protoc-gen-go=$(BIN)/protoc-gen-go --plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc \
		--go_out=api/proto --go_opt=paths=source_relative \
		--go-grpc_out=api/proto --go-grpc_opt=paths=source_relative \
		$(PROTOS)

# The committed generated code must match the .proto files.
check-generate: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	protoc -I api/proto -I $(PROTO_INCLUDE) \
		--plugin=protoc-gen-go=$(BIN)/protoc-gen-go --plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc \
		--go_out=$$tmp --go_opt=paths=source_relative \
		--go-grpc_out=$$tmp --go-grpc_opt=paths=source_relative \
		$(PROTOS) && \
	for f in $$(cd $$tmp && find . -name '*.go'); do \
		diff -u api/proto/$$f $$tmp/$$f || { echo "api/proto/$$f is stale: run make generate"; exit 1; }; \
	done && echo "generated code is up to date"

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>&1); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Installs what the tests need: Debian packages (when root), Go modules,
# MLflow in .venv and the AI CLIs from npm into .cache/npm.
test-deps: venv
	bash scripts/install-test-deps.sh
	bash scripts/install-ai-clis.sh
	$(GO) mod download

# Packages run one at a time: several of them start a real MLflow server,
# and two of those at once on a 2-core machine make every test slow.
test: test-deps check-generate
	$(GO) test -race -p 1 -timeout $(TEST_TIMEOUT) ./...

# Measures aitrack against script, asciinema and the bare PTY in one run and
# writes BENCHMARKS.md and BENCHMARKS.json (about half an hour on 2 cores).
bench: build venv
	$(GO) run ./bench/cmd/aitrack-bench -bin $(CURDIR)/$(BIN) -out BENCHMARKS.md -json BENCHMARKS.json

ifeq ($(MLFLOW),$(CURDIR)/$(VENV)/bin/mlflow)
RUN_DEPS := $(VENV_STAMP)
endif

# Starts aitrackd in the foreground with a local MLflow UI.
run: build $(RUN_DEPS)
	$(BIN)/aitrackd --mlflow-bin $(MLFLOW)

clean:
	rm -rf $(BIN)
