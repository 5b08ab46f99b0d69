-- Shared by the wrk scripts of tests/bench/bench.py: done() prints the exact figures of a run on
-- one line that bench.py reads (wrk's own text rounds them):
--   TB requests=N bytes=B duration_us=D p50_us=X p99_us=Y connect=.. read=.. write=.. status=..
--      timeout=.. <the script's own key=value pairs>
-- status counts the non-2xx answers.
local report = {}

function report.line(summary, latency, extra)
    local e = summary.errors
    io.write(string.format(
        "TB requests=%d bytes=%d duration_us=%d p50_us=%d p99_us=%d connect=%d read=%d " ..
        "write=%d status=%d timeout=%d %s\n",
        summary.requests, summary.bytes, summary.duration, latency:percentile(50),
        latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout, extra or ""))
end

return report
