#!/usr/bin/env bash
# The tests that train, and the seeded smoke run's regression guard, under each CPU kernel path of this machine
# (issue 29): ATEN_CPU_CAPABILITY (default, avx2, avx512 where the CPU has it) x torch threads (1, 2). `.ci/run`
# covers one second path (ATEN_CPU_CAPABILITY=default, in the compat lane); this covers them all (~5 min each on
# 2 cores). Results: benchmarks/RESULTS.md, "Kernel paths".
#   bash benchmarks/kernel_paths.sh [CAPABILITY...]
set -uo pipefail
cd "$(dirname "$0")/.."
caps=("$@")
[ ${#caps[@]} -gt 0 ] || caps=(default avx2)
tests=(tests/test_learning.py tests/test_train.py tests/test_exam_level.py tests/test_heads.py
       "tests/test_notebooks.py::test_the_seeded_smoke_run_gives_its_recorded_numbers")
for cap in "${caps[@]}"; do
  for threads in 2 1; do
    start=$(date +%s)
    ATEN_CPU_CAPABILITY=$cap OMP_NUM_THREADS=$threads .venv/bin/python -m pytest -q -p no:cacheprovider \
      "${tests[@]}" > "/tmp/kernel_path_${cap}_${threads}.log" 2>&1
    rc=$?
    echo "ATEN_CPU_CAPABILITY=$cap threads=$threads: $(tail -1 "/tmp/kernel_path_${cap}_${threads}.log") (exit $rc, $(( $(date +%s) - start )) s)"
  done
done
