#!/usr/bin/env bash
# Every log message of the module carries its own number, TBLOGNO(nnnnn):
# five digits, used once.  Like httpd's "Empty APLOGNO() test", this keeps
# the numbers greppable and unique as messages are added.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
if grep -n 'TBLOGNO()' mod_taskboard/*.c; then
    echo "check_lognos: empty TBLOGNO() above" >&2
    status=1
fi
if grep -nE 'TBLOGNO\(([^0-9)]|[0-9]{1,4}\)|[0-9]{6,})' mod_taskboard/*.c; then
    echo "check_lognos: a TBLOGNO number above is not five digits" >&2
    status=1
fi
dups=$(grep -ohE 'TBLOGNO\([0-9]{5}\)' mod_taskboard/*.c | sort | uniq -d)
if [ -n "$dups" ]; then
    echo "check_lognos: numbers used twice: $dups" >&2
    status=1
fi
# a log call whose text starts before any TBLOGNO has no number
if perl -0777 -ne 'while (/(ap_log_r?error\(APLOG_MARK[^"]*?)"/g) {
        my $head = $1; next if $head =~ /TBLOGNO/; print "$ARGV: $head\n"; $bad = 1 }
        END { exit($bad ? 0 : 1) }' mod_taskboard/*.c; then
    echo "check_lognos: a log call above has no TBLOGNO" >&2
    status=1
fi
# every number has its line in the log table of docs/operations.md (the configuration errors
# TB00001-TB00012 share one line)
for n in $(grep -ohE 'TBLOGNO\([0-9]{5}\)' mod_taskboard/*.c | grep -oE '[0-9]{5}' | sort -u); do
    if [ "$n" -gt 12 ] && ! grep -q "^| TB$n |" docs/operations.md; then
        echo "check_lognos: TB$n is not in the log table of docs/operations.md" >&2
        status=1
    fi
done
count=$(grep -ohE 'TBLOGNO\([0-9]{5}\)' mod_taskboard/*.c | wc -l)
[ $status -eq 0 ] && echo "check_lognos: $count log numbers, all unique and documented"
exit $status
