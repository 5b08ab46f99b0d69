-- wrk script of tests/bench/bench.py: POST <path> with one sync per request.  Every request has a
-- requestId and $PhantomIds of its own (a repeated requestId with the same body would be answered
-- from the request table, a repeated $PhantomId would become an update).
--
--   wrk -tT ... -s sync.lua URL -- PATH SCENARIO NONCE REVISION TASKS RESOURCES T
--       [SEEDS [FIRST [BOARDS]]]
--
-- SCENARIO:
--   move   one card move: status and weight of one task
--   add    a new card with one assignment (tasks.added + assignments.added, eventId = $PhantomId)
--   batch  ten changes: 2 added tasks, 6 updated tasks, 2 removed tasks that this thread added
--          earlier (their ids are read from the answers; SEEDS, "id,id,...", are tasks made
--          beforehand so that the first requests have something to remove)
-- Updated tasks are taken from FIRST..FIRST+TASKS-1 (FIRST: 1 unless given; galera.py's scoped
-- boards each have ids of their own), split between the threads so that two threads never
-- wait for the same row.  Every sync sends "revision": the highest revision this thread has seen
-- in an answer, starting from REVISION.  done() prints the line of wrkreport.lua with
-- responses=N short=S maxrev=R threads=T added, where short counts batches that had fewer than
-- 2 ids to remove.
--
-- REVISION "none": the syncs carry no revision (the seed guide's PHP backend then skips its
-- optimistic check, the equivalent of the module's TaskBoardConflictPolicy off).
-- BOARDS (edits.py's card moves on several boards): "NAME:OFFSET,NAME:OFFSET,...".  Request n
-- of a thread goes to board n % count: PATH with "{board}" replaced by its NAME, the task
-- OFFSET + (the task it would move on one board).  Each board has a revision of its own: the
-- answer's requestId tells which board it came from.  Without BOARDS, one board at PATH.
-- Under TB_BENCH_SESSIONS=P (the PHP backend, which starts a session on every request), every
-- request carries Cookie: PHPSESSID=<thread>x<n % P>: as many sessions as a client each, kept
-- from run to run, so that concurrent requests do not wait for each other's session lock.

local report = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrkreport.lua")

local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("index", #threads)
end

local STATUSES = {"todo", "doing", "review", "done"}
local path, scenario, nonce, tasks, resources
local first, span                    -- this thread's tasks: first .. first + span - 1
local n, k = 0, 0
local removable = {}
local boards = {}                    -- {name, offset, maxrev} of each board
local send_revision = true
local sessions = tonumber(os.getenv("TB_BENCH_SESSIONS") or "")
-- globals: done() reads them from each thread with thread:get()
responses, short, maxrev = 0, 0, 0

local function split(list)
    local out = {}
    for v in string.gmatch(list or "", "%d+") do
        table.insert(out, tonumber(v))
    end
    return out
end

function init(args)
    path, scenario, nonce = args[1], args[2], tonumber(args[3])
    send_revision = args[4] ~= "none"
    maxrev, tasks, resources = tonumber(args[4]) or 0, tonumber(args[5]), tonumber(args[6])
    -- wrk runs setup() in its main state: a thread knows only its own index, not the count
    local count = tonumber(args[7])
    span = math.floor(tasks / count)
    first = (index - 1) * span + (tonumber(args[9]) or 1)
    for i, id in ipairs(split(args[8])) do
        if (i - 1) % count == index - 1 then
            table.insert(removable, id)
        end
    end
    for name, offset in string.gmatch(args[10] or "", "([^,:]+):(%d+)") do
        table.insert(boards, {name = name, offset = tonumber(offset), maxrev = maxrev})
    end
    if #boards == 0 then
        boards[1] = {name = "", offset = 0, maxrev = maxrev}
    end
end

local function unique(prefix)
    return string.format("%s%d_%d_%d", prefix, nonce, index, n)
end

local board                          -- the board of the request being made

local function next_task()
    k = k + 1
    return board.offset + first + k % span
end

local function updated(count)
    local rows = {}
    for _ = 1, count do
        -- a weight no earlier run has written: every update really changes its row
        rows[#rows + 1] = string.format('{"id":%d,"status":"%s","weight":%d}',
                                        next_task(), STATUSES[1 + k % 4], nonce * 100000 + n)
    end
    return table.concat(rows, ",")
end

local function added_task(phantom)
    return string.format('{"$PhantomId":"%s","name":"Bench card %d","status":"todo"}', phantom, n)
end

local function body_move()
    return string.format('"tasks":{"updated":[%s]}', updated(1))
end

local function body_add()
    local task = unique("t")
    return string.format('"tasks":{"added":[%s]},"assignments":{"added":[{"$PhantomId":"%s",' ..
                         '"eventId":"%s","resourceId":%d}]}',
                         added_task(task), unique("a"), task, 1 + n % resources)
end

local function body_batch()
    local removed = {}
    while #removed < 2 and #removable > 0 do
        removed[#removed + 1] = string.format('{"id":%d}', table.remove(removable, 1))
    end
    if #removed < 2 then
        short = short + 1
    end
    local body = string.format('"tasks":{"added":[%s,%s],"updated":[%s]',
                               added_task(unique("b") .. "x"), added_task(unique("b") .. "y"),
                               updated(6 + 2 - #removed))
    if #removed > 0 then
        body = body .. ',"removed":[' .. table.concat(removed, ",") .. "]"
    end
    return body .. "}"
end

local BODIES = {move = body_move, add = body_add, batch = body_batch}

function request()
    n = n + 1
    board = boards[1 + n % #boards]
    local revision = send_revision and string.format('"revision":%d,', board.maxrev) or ""
    local body = string.format('{"type":"sync","requestId":%d,%s%s}',
                               10000000000000 + nonce * 1000000000 + index * 100000000 + n,
                               revision, BODIES[scenario]())
    local headers = {["Content-Type"] = "application/json"}
    if sessions then
        headers["Cookie"] = string.format("PHPSESSID=tb%dx%d", index, n % sessions)
    end
    return wrk.format("POST", (string.gsub(path, "{board}", board.name)), headers, body)
end

function response(status, headers, body)
    responses = responses + 1
    local head = string.sub(body, 1, 200)
    local rev = tonumber(string.match(head, '"revision":(%d+)'))
    local rid = tonumber(string.match(head, '"requestId":(%d+)'))
    local b = boards[1]
    if rid and #boards > 1 then
        b = boards[1 + (rid % 100000000) % #boards]
    end
    if rev and rev > b.maxrev then
        b.maxrev = rev
    end
    if rev and rev > maxrev then
        maxrev = rev
    end
    if scenario == "batch" then
        -- the two added tasks of this thread's batches, to be removed by later batches
        for id in string.gmatch(body, '"%$PhantomId":"b[%d_]+[xy]","id":(%d+)') do
            table.insert(removable, tonumber(id))
        end
    end
end

function done(summary, latency, requests)
    local r, s, m = 0, 0, 0
    for _, t in ipairs(threads) do
        r = r + (t:get("responses") or 0)
        s = s + (t:get("short") or 0)
        m = math.max(m, t:get("maxrev") or 0)
    end
    report.line(summary, latency, string.format("responses=%d short=%d maxrev=%d threads=%d",
                                                r, s, m, #threads))
end
