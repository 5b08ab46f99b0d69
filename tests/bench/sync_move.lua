-- wrk script: one card move per request, the status cycling so that every sync really changes
-- the row.  Every request has a requestId of its own, across threads and runs: a repeated
-- (requestId, body) would be answered from the request table instead of being applied.
local statuses = {"todo", "doing", "review", "done"}
local threads = 0
local n = 0

function setup(thread)
    threads = threads + 1
    thread:set("base", (os.time() % 100000) * 1000000000 + threads * 100000000)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
    n = n + 1
    local body = string.format(
        '{"type":"sync","requestId":%d,"tasks":{"updated":[{"id":%d,"status":"%s"}]}}',
        base + n, 1 + n % 5, statuses[1 + n % 4])
    return wrk.format(nil, nil, nil, body)
end
