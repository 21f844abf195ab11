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

$(VENV)/bin/mlflow:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check mlflow==$(MLFLOW_VERSION)

venv: $(VENV)/bin/mlflow
