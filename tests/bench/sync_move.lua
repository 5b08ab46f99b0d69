-- wrk script: one card move per request, the status cycling so that every sync really changes
-- the row, each with its own requestId.
local statuses = {"todo", "doing", "review", "done"}
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
    n = n + 1
    local body = string.format(
        '{"type":"sync","requestId":%d,"tasks":{"updated":[{"id":%d,"status":"%s"}]}}',
        n, 1 + n % 5, statuses[1 + n % 4])
    return wrk.format(nil, nil, nil, body)
end
