date -u +%s.%N
