# stylevid — the two commands of the README, and what they share.
#   make demo   set up (idempotent), build, stylize a real sample photo → out/demo.png
#   make test   set up (idempotent), build optimised, run the whole test suite
SHELL := /bin/bash
export STYLEVID_HOME ?= $(HOME)/.cache/stylevid
DATA := $(STYLEVID_HOME)/data
SWIFT_FLAGS := -c release

.PHONY: setup build install plugin install-frei0r demo demo-photo test bench clean

setup:
	@bash scripts/setup.sh

build: setup
	swift build $(SWIFT_FLAGS) --product stylevid

# The command on the PATH: `make install PREFIX=$HOME/.local` (~/.local/bin), or as root
# `make install` (/usr/local/bin). Run it as the user who built: it runs `build` first.
PREFIX ?= /usr/local
install: build
	mkdir -p $(PREFIX)/bin
	cp .build/release/stylevid $(PREFIX)/bin/stylevid
	@echo "installed $(PREFIX)/bin/stylevid"

# The frei0r effect (FFmpeg's frei0r filter, MLT: melt, Kdenlive, Shotcut; GStreamer's
# frei0r elements), installed where frei0r hosts look for a user's effects under the name
# hosts ask for, and Kdenlive's description of it where Kdenlive looks for user effects.
plugin: setup
	swift build $(SWIFT_FLAGS) --product stylevid-frei0r

FREI0R_DIR ?= $(HOME)/.frei0r-1/lib
KDENLIVE_EFFECTS ?= $(HOME)/.local/share/kdenlive/effects
install-frei0r: plugin
	mkdir -p $(FREI0R_DIR) $(KDENLIVE_EFFECTS)
	cp .build/release/libstylevid-frei0r.so $(FREI0R_DIR)/stylevid.so
	cp plugin/frei0r_stylevid.xml $(KDENLIVE_EFFECTS)/frei0r_stylevid.xml
	@echo "installed $(FREI0R_DIR)/stylevid.so and $(KDENLIVE_EFFECTS)/frei0r_stylevid.xml"

# A real photo in the colours and brush strokes of a real painting, with the default
# model (VGG16 from HED unless a VGG19 is installed). About 4 minutes on 2 cores.
demo: build
	@mkdir -p out
	.build/release/stylevid $(DATA)/astronaut.png $(DATA)/mate/abstract/Elephants.jpg out/demo.png \
		--size 384 --iterations 100
	@echo "demo: wrote out/demo.png"

# Photo-to-photo relighting of the sample coffee photo with a stormy-sky photo.
demo-photo: build
	@mkdir -p out
	.build/release/stylevid photo $(DATA)/coffee.png $(DATA)/mate/nature/Storm.jpg out/relit.png
	@echo "demo-photo: wrote out/relit.png"

# Release build: the numeric tests are far too slow unoptimised. Tests use only the
# public API, so no -enable-testing is needed.
test: setup
	swift build $(SWIFT_FLAGS) --build-tests
	STYLEVID_REQUIRE_INSTALLED=1 swift test $(SWIFT_FLAGS) --skip-build

bench: build
	bash scripts/bench.sh suite

clean:
	rm -rf .build out
