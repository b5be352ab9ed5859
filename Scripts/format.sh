#!/usr/bin/env bash
# Formats Flowhound's Swift code with the toolchain's `swift format` and the repository's .swift-format.
#
#   Scripts/format.sh           rewrite the files in place
#   Scripts/format.sh --check   change nothing: list every finding, exit 1 when there is one (CI runs this)
#
# .swift-format follows the code as written: 4-space indent, lines up to 160 (1% of lines are longer
# than 143), `#if` blocks not indented, trailing commas in multi-line collections. Rules the code
# departs from on purpose are off: several short statements on one line (DoNotUseSemicolons), several
# variables in one `let` (OneVariableDeclarationPerLine), snake_case names that are JSON keys
# (AlwaysUseLowerCamelCase) and `case let (a?, b?)` (UseLetInEveryBoundCaseVariable).
set -euo pipefail
cd "$(dirname "$0")/.."

paths=(Package.swift Sources Tests Benchmarks/Package.swift Benchmarks/Sources Fuzz)

case "${1:-}" in
  --check) exec swift format lint --strict --parallel --recursive "${paths[@]}" ;;
  "") exec swift format format --in-place --parallel --recursive "${paths[@]}" ;;
  *) echo "usage: Scripts/format.sh [--check]" >&2; exit 64 ;;
esac
