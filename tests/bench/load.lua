-- wrk script of tests/bench/bench.py: GET <path>?data=<the load package>, every request with a
-- requestId of its own.  All requestIds have 14 digits, so every answer has the same size.
--
--   wrk ... -s load.lua URL -- PATH NONCE [count]
--
-- PATH is /api/load for the module, or the static copy of its answer (/load-M.json); the static
-- file gets the same query string, so that both sides send the same requests.  NONCE (0..9999)
-- keeps the requestIds of different runs apart.  With "count", response() reads the revision
-- from the first 200 bytes of every answer and counts the answers whose revision differs from
-- the previous answer's on the same thread.  done() prints the line of wrkreport.lua with
-- responses=N changed=M threads=T added.  Under TB_BENCH_SESSIONS=P, every request carries
-- Cookie: PHPSESSID=<thread>x<n % P> (see sync.lua).

local report = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrkreport.lua")

local PRE = "%7B%22type%22%3A%22load%22%2C%22requestId%22%3A"
local POST = "%2C%22stores%22%3A%5B%22tasks%22%2C%22resources%22%2C%22assignments%22%5D%7D"

local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("index", #threads)
end

local path, base
local n = 0
-- globals: done() reads them from each thread with thread:get()
responses, changed = 0, 0
local last
local sessions = tonumber(os.getenv("TB_BENCH_SESSIONS") or "")

local function count_response(status, headers, body)
    local rev = string.match(string.sub(body, 1, 200), '"revision":(%d+)')
    responses = responses + 1
    if rev ~= last then
        if last ~= nil then
            changed = changed + 1
        end
        last = rev
    end
end

function init(args)
    path = args[1] .. "?data=" .. PRE
    local nonce = tonumber(args[2]) or 0
    base = 10000000000000 + (nonce % 10000) * 1000000000 + index * 100000000
    if args[3] == "count" then
        response = count_response
    end
end

function request()
    n = n + 1
    local headers = nil
    if sessions then
        headers = {["Cookie"] = string.format("PHPSESSID=tb%dx%d", index, n % sessions)}
    end
    return wrk.format("GET", path .. string.format("%d", base + n) .. POST, headers)
end

function done(summary, latency, requests)
    local r, c = 0, 0
    for _, t in ipairs(threads) do
        r = r + (t:get("responses") or 0)
        c = c + (t:get("changed") or 0)
    end
    report.line(summary, latency, string.format("responses=%d changed=%d threads=%d", r, c,
                                                #threads))
end
