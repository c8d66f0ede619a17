# The two commands of the README, and a few more for developers.
#   make run    install what is missing, build, start one node (data in ./var)
#   make test   install what is missing, build with ASan+UBSan, run every test
MAKEFLAGS  += --no-print-directory
BUILD      ?= build
TEST_BUILD ?= build-test
JOBS       ?= $(shell nproc)
CTEST_JOBS ?= 2

.PHONY: all deps build run cluster test unit lint format format-check bench clean

all: build

deps:
	@./tools/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILNODE_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@./tools/run.sh $(BUILD)/mailnode

cluster: build
	@./tools/cluster.sh $(BUILD)/mailnode

$(TEST_BUILD)/CMakeCache.txt:
	@CC=clang cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DMAILNODE_SANITIZE=ON -DMAILNODE_FUZZ=ON >/dev/null

test: deps $(TEST_BUILD)/CMakeCache.txt
	@cmake --build $(TEST_BUILD) -j$(JOBS)
	@mkdir -p $(TEST_BUILD)/tmp
	@cd $(TEST_BUILD) && ctest -j$(CTEST_JOBS) --output-on-failure $(CTEST_ARGS)

lint: deps $(TEST_BUILD)/CMakeCache.txt
	@cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--suppress=missingIncludeSystem --inline-suppr \
		--suppress=unknownMacro \
		-I . node replication protocols tools

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

bench: build
	@echo "benchmarks: see docs/benchmarks.md for the commands"

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
