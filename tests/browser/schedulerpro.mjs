// Drives Bryntum Scheduler Pro (the npm trial build, tests/browser/node_modules/@bryntum/
// schedulerpro-trial) on the page conf/demo-schedulerpro/index.html in Debian's chromium, for
// tests/integration/test_780_schedulerpro_browser.py.
//
// The same line protocol as driver.mjs: one JSON command per line on stdin, one JSON answer per
// line on stdout ({"id", "ok": true, …} or {"id", "ok": false, "error"}).
//
// Commands (all but "open" and "close" take "page"):
//   open {url, timezone?}          the page in a new context (the browser's time zone: timezone),
//                                  once the project is loaded and saved
//   view                           what the page shows (see readView)
//   drag {event, days}             drags the event's bar by that many days (ticks) with the mouse,
//                                  then waits until the change is saved
//   resize {event, days}           drags the bar's end by that many days, then waits until saved
//   addWithEditor {resource, date, eventName}
//                                  double-clicks the resource's row at date (local time, as
//                                  "2024-01-16T09:00"), names the event in the event editor and
//                                  saves it, then waits until saved
//   link {from, to}                drags a dependency from the end terminal of event from onto
//                                  event to, then waits until saved
//   run {script}                   runs an async function body in the page (window.scheduler is
//                                  the Scheduler Pro), then waits until saved; answers its value
//   removeSelected {event}         clicks the event's bar, presses Delete, waits until saved
//   reload                         the browser's reload, until loaded and saved
//   requests                       the load and sync requests sent since the last call (method,
//                                  url, body) with their answers (status, body)
//   settle {script?}               runs the async function body (if any), then waits until no load
//                                  or sync is in flight and none was sent for a moment (lazy
//                                  loading: the loads a scroll or a shift of the time axis makes)
//   wheel {dx, dy}                 the mouse wheel over the schedule, then as settle
//   window                         what a lazy page shows: the resources of the rows drawn, the
//                                  time axis's visible range, the bars drawn and the stores' sizes
//   screenshot {path}              the page, as PNG
//   closePage | close
//
// Debian's chromium is launched through playwright-core; no browser is ever downloaded.

import readline from 'node:readline';
import {chromium} from 'playwright-core';

const EXECUTABLE = process.env.TB_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = Number(process.env.TB_BROWSER_TIMEOUT_MS || 20000);
// the engine and autoSync work after each change (autoSyncTimeout 100 ms); a change is "done" when
// the page has stayed saved this long
const QUIET_MS = 400;

const browser = await chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});

const pages = new Map();            // name -> {context, page, problems, requests}

function entry(name) {
    const e = pages.get(name);
    if (!e) {
        throw new Error(`no page named ${name}`);
    }
    return e;
}

// What the page shows: the project's records (as the Scheduler Pro holds them, dates as UTC ISO
// strings) and the event bars drawn in the DOM (event, resource, text).
async function readView(page) {
    return page.evaluate(() => {
        const iso = (d) => (d ? d.toISOString().replace(/\.000Z$/, 'Z') : null);
        const s = window.scheduler;
        const body = document.body;
        const state = {status: body.dataset.status, loads: Number(body.dataset.loads),
                       syncs: Number(body.dataset.syncs), message: body.dataset.message || null};
        if (!s) {
            return state;
        }
        const p = s.project;
        const bars = [...document.querySelectorAll('.b-sch-event-wrap')]
            .filter((el) => !el.classList.contains('b-released') && el.offsetParent !== null)
            .map((el) => ({event: el.dataset.eventId, resource: el.dataset.resourceId,
                           text: el.querySelector('.b-sch-event-content')?.textContent.trim() ?? ''}));
        return {
            ...state,
            changes: p.crudStoreHasChanges(),
            resources: p.resourceStore.records.map((r) => ({id: r.id, name: r.name})),
            events: p.eventStore.records.map((e) => ({
                id: e.id, name: e.name, startDate: iso(e.startDate), endDate: iso(e.endDate),
                duration: e.duration, durationUnit: e.durationUnit,
                constraintType: e.constraintType ?? null, constraintDate: iso(e.constraintDate)})),
            assignments: p.assignmentStore.records.map((a) => ({
                id: a.id, event: a.event?.id ?? a.eventId, resource: a.resource?.id ?? a.resourceId})),
            dependencies: p.dependencyStore.records.map((d) => ({
                id: d.id, from: d.fromEvent?.id ?? d.from, to: d.toEvent?.id ?? d.to, type: d.type})),
            calendars: p.calendarManagerStore.records.map((c) => ({
                id: c.id, name: c.name,
                intervals: c.intervalStore.records.map((i) => ({
                    id: i.id, name: i.name ?? null, startDate: iso(i.startDate), endDate: iso(i.endDate),
                    recurrentStartDate: i.recurrentStartDate ?? null,
                    recurrentEndDate: i.recurrentEndDate ?? null, isWorking: Boolean(i.isWorking)}))})),
            project: {calendar: p.calendar?.id ?? null, hoursPerDay: p.hoursPerDay,
                      daysPerWeek: p.daysPerWeek, daysPerMonth: p.daysPerMonth},
            bars,
        };
    });
}

// Until no load or sync is in flight and none has been sent or answered for QUIET_MS (a lazy
// page loads what a scroll or a move of the time axis shows, a moment after it).
async function settled(e) {
    const deadline = Date.now() + TIMEOUT;
    await e.page.waitForTimeout(QUIET_MS);
    while (e.inFlight > 0 || Date.now() - e.lastRequest < QUIET_MS) {
        if (Date.now() > deadline) {
            throw new Error(`loads still in flight after ${TIMEOUT} ms: ${e.inFlight}`);
        }
        await e.page.waitForTimeout(50);
    }
}

// What a lazy page shows: the resources of the grid rows in view (id and the name in the row), the
// time axis's visible range, and each event bar drawn with its event's fields as the page holds
// them.
async function readWindow(page) {
    return page.evaluate(() => {
        const iso = (d) => (d ? d.toISOString().replace(/\.000Z$/, 'Z') : null);
        const s = window.scheduler;
        const p = s.project;
        // the rows inside the viewport (the grid draws some more above and below it)
        const view = s.bodyContainer.getBoundingClientRect();
        const rows = [...s.subGrids.locked.element.querySelectorAll('.b-grid-row')]
            .filter((el) => {
                const box = el.getBoundingClientRect();
                return el.dataset.id !== undefined && el.offsetParent !== null
                    && !el.classList.contains('b-row-placeholder')
                    && box.top >= view.top - 1 && box.bottom <= view.bottom + 1;
            })
            .map((el) => ({id: el.dataset.id, name: el.querySelector('.b-grid-cell')?.textContent.trim()}));
        const bars = [...document.querySelectorAll('.b-sch-event-wrap')]
            .filter((el) => !el.classList.contains('b-released') && el.offsetParent !== null)
            .map((el) => {
                const e = p.eventStore.getById(el.dataset.eventId);
                return {event: el.dataset.eventId, resource: el.dataset.resourceId,
                        text: el.querySelector('.b-sch-event-content')?.textContent.trim() ?? '',
                        startDate: iso(e?.startDate), endDate: iso(e?.endDate)};
            });
        const range = s.visibleDateRange;
        // for a failure's message: what the stores hold for the rows in view (taken in but not
        // drawn, or never taken in)
        const held = Object.fromEntries(rows.map((r) => [r.id,
            p.resourceStore.getById(r.id)?.events?.length ?? null]));
        // the events the scheduling engine moved since they were loaded (not saved: ?lazy=1)
        const moved = (p.changes?.events?.updated ?? []).map((r) => String(r.id));
        return {rows, bars, held, moved, visibleStart: iso(range.startDate), visibleEnd: iso(range.endDate),
                axisStart: iso(s.timeAxis.startDate), axisEnd: iso(s.timeAxis.endDate),
                scrollTop: s.scrollable.y,
                stores: {resources: p.resourceStore.count, events: p.eventStore.count,
                         assignments: p.assignmentStore.count,
                         dependencies: p.dependencyStore.count},
                // what the page holds unsaved: per store, the records and the fields changed
                changes: Object.fromEntries(Object.entries(p.changes || {})
                    .filter(([, c]) => c && typeof c === 'object' && !Array.isArray(c) && c.updated)
                    .map(([store, c]) => [store, {updated: c.updated.length, added: c.added?.length ?? 0,
                        removed: c.removed?.length ?? 0,
                        fields: [...new Set(c.updated.flatMap((r) => Object.keys(r)))].filter((k) => k !== 'id').sort()}])),
                status: document.body.dataset.status,
                message: document.body.dataset.message || null};
    });
}

// Until the page is saved, has made `syncs` syncs at least and then stayed saved a moment (the
// engine may still answer a change with more changes, which autoSync sends).
async function waitSaved(page, minSyncs = 0) {
    const deadline = Date.now() + TIMEOUT;
    let quietSince = null;
    for (;;) {
        const s = await page.evaluate(() => {
            const body = document.body;
            const p = window.scheduler?.project;
            return {status: body.dataset.status, syncs: Number(body.dataset.syncs),
                    loads: Number(body.dataset.loads), message: body.dataset.message,
                    changes: p ? p.crudStoreHasChanges() : true,
                    busy: p ? Boolean(p.isCrudManagerSyncing || p.isCrudManagerLoading) : true};
        });
        if (s.status === 'error') {
            throw new Error(`the page reports: ${s.message}`);
        }
        const saved = s.status === 'saved' && s.loads > 0 && s.syncs >= minSyncs && !s.changes && !s.busy;
        if (!saved) {
            quietSince = null;
        }
        else if (quietSince === null) {
            quietSince = Date.now();
        }
        else if (Date.now() - quietSince >= QUIET_MS) {
            return;
        }
        if (Date.now() > deadline) {
            throw new Error(`not saved within ${TIMEOUT} ms: ${JSON.stringify(s)}`);
        }
        await page.waitForTimeout(50);
    }
}

async function syncs(page) {
    return Number(await page.evaluate(() => document.body.dataset.syncs));
}

async function bar(page, id) {
    const el = page.locator(`.b-sch-event-wrap[data-event-id="${id}"] .b-sch-event`).first();
    await el.scrollIntoViewIfNeeded();
    const box = await el.boundingBox();
    if (!box) {
        throw new Error(`event ${id} has no bar on the page`);
    }
    return box;
}

async function mouseDrag(page, from, to) {
    await page.mouse.move(from.x, from.y);
    await page.waitForTimeout(100);
    await page.mouse.down();
    const steps = 12;
    for (let i = 1; i <= steps; i++) {
        await page.mouse.move(from.x + (to.x - from.x) * i / steps, from.y + (to.y - from.y) * i / steps);
        await page.waitForTimeout(20);
    }
    await page.waitForTimeout(100);
    await page.mouse.up();
}

const commands = {
    async open({page: name, url, timezone}) {
        if (pages.has(name)) {
            throw new Error(`page ${name} is open already`);
        }
        const context = await browser.newContext({
            viewport: {width: 1600, height: 800}, ...(timezone ? {timezoneId: timezone} : {})});
        const page = await context.newPage();
        const e = {context, page, problems: [], requests: [], inFlight: 0, lastRequest: 0};
        page.on('request', (request) => {
            if (/\/(load|sync)(\?|$)/.test(request.url())) {
                e.inFlight++;
                e.lastRequest = Date.now();
            }
        });
        page.on('requestfailed', (request) => {
            if (/\/(load|sync)(\?|$)/.test(request.url())) {
                e.inFlight--;
            }
        });
        page.on('pageerror', (err) => e.problems.push(`pageerror: ${err.message}`));
        page.on('console', (msg) => {
            if (msg.type() === 'error') {
                e.problems.push(`console: ${msg.text()}`);
            }
        });
        // every load and sync, with its answer: the bodies the real client sends
        page.on('requestfinished', async (request) => {
            if (!/\/(load|sync)(\?|$)/.test(request.url())) {
                return;
            }
            const record = {method: request.method(), url: request.url(), body: request.postData()};
            e.requests.push(record);
            const response = await request.response();
            record.status = response ? response.status() : null;
            record.answer = response ? await response.text().catch(() => null) : null;
            e.inFlight--;
            e.lastRequest = Date.now();
        });
        page.on('requestfailed', (request) => e.problems.push(
            `request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`));
        pages.set(name, e);
        await page.goto(url);
        await waitSaved(page);
        return {view: await readView(page)};
    },

    async view({page: name}) {
        const e = entry(name);
        return {view: await readView(e.page), problems: e.problems};
    },

    async drag({page: name, event, days}) {
        const {page} = entry(name);
        const before = await syncs(page);
        const tick = await page.evaluate(() => window.scheduler.tickSize);
        const box = await bar(page, event);
        const from = {x: box.x + Math.min(box.width / 2, 30), y: box.y + box.height / 2};
        await mouseDrag(page, from, {x: from.x + days * tick, y: from.y});
        await waitSaved(page, before + 1);
        return {view: await readView(page)};
    },

    async resize({page: name, event, days}) {
        const {page} = entry(name);
        const before = await syncs(page);
        const tick = await page.evaluate(() => window.scheduler.tickSize);
        const box = await bar(page, event);
        // the resize handle is the bar's last few pixels; hovering the bar shows it
        const from = {x: box.x + box.width - 3, y: box.y + box.height / 2};
        await page.mouse.move(box.x + box.width / 2, from.y);
        await page.waitForTimeout(150);
        await mouseDrag(page, from, {x: from.x + days * tick, y: from.y});
        await waitSaved(page, before + 1);
        return {view: await readView(page)};
    },

    async addWithEditor({page: name, resource, date, eventName}) {
        const {page} = entry(name);
        const before = await syncs(page);
        // the point of the resource's row at that date (the page's time zone)
        const at = await page.evaluate(({resource, date}) => {
            const s = window.scheduler;
            const row = s.getRowFor(s.resourceStore.getById(resource));
            const box = row.getElement('normal').getBoundingClientRect();
            const axis = s.timeAxisSubGridElement.getBoundingClientRect();
            return {x: axis.left + s.getCoordinateFromDate(new Date(date), true),
                    y: box.top + box.height / 2};
        }, {resource, date});
        await page.mouse.dblclick(at.x, at.y);
        // Scheduler Pro's event editor (its class names differ between versions: the popup
        // holding the name field)
        const editor = page.locator('.b-popup', {has: page.locator('input[name="name"]')}).first();
        await editor.waitFor({state: 'visible', timeout: TIMEOUT});
        await editor.locator('input[name="name"]').fill(eventName);
        await editor.locator('button', {hasText: 'Save'}).click();
        await editor.waitFor({state: 'hidden', timeout: TIMEOUT});
        await waitSaved(page, before + 1);
        return {view: await readView(page)};
    },

    async link({page: name, from, to}) {
        const {page} = entry(name);
        const before = await syncs(page);
        // hovering a bar shows its terminals; drag from the end terminal onto the other bar
        const source = await bar(page, from);
        await page.mouse.move(source.x + source.width / 2, source.y + source.height / 2);
        await page.waitForTimeout(300);
        const terminal = page.locator(`.b-sch-event-wrap[data-event-id="${from}"] `
                                      + '.b-sch-terminal[data-side="end"]').first();
        const start = await terminal.boundingBox();
        if (!start) {
            throw new Error(`event ${from} shows no end terminal`);
        }
        const target = await bar(page, to);
        await mouseDrag(page, {x: start.x + start.width / 2, y: start.y + start.height / 2},
                        {x: target.x + Math.min(target.width / 2, 30), y: target.y + target.height / 2});
        await waitSaved(page, before + 1);
        return {view: await readView(page)};
    },

    async run({page: name, script}) {
        const {page} = entry(name);
        const before = await syncs(page);
        const value = await page.evaluate(`(async () => { ${script} })()`);
        await waitSaved(page, before + 1);
        return {value, view: await readView(page)};
    },

    async removeSelected({page: name, event}) {
        const {page} = entry(name);
        const before = await syncs(page);
        const box = await bar(page, event);
        await page.mouse.click(box.x + Math.min(box.width / 2, 30), box.y + box.height / 2);
        await page.waitForTimeout(150);
        await page.keyboard.press('Delete');
        await waitSaved(page, before + 1);
        return {view: await readView(page)};
    },

    async reload({page: name}) {
        const {page} = entry(name);
        await page.reload();
        await waitSaved(page);
        return {view: await readView(page)};
    },

    async requests({page: name}) {
        const e = entry(name);
        // the last answer's body may still be being read
        await e.page.waitForTimeout(50);
        const list = e.requests;
        e.requests = [];
        return {requests: list};
    },

    async settle({page: name, script}) {
        const e = entry(name);
        const value = script ? await e.page.evaluate(`(async () => { ${script} })()`) : null;
        await settled(e);
        return {value};
    },

    async wheel({page: name, dx = 0, dy = 0}) {
        const e = entry(name);
        // over the middle of the schedule, as a user's mouse wheel (or touchpad) scrolls it
        const box = await e.page.evaluate(() => {
            const r = window.scheduler.timeAxisSubGridElement.getBoundingClientRect();
            return {x: r.left + r.width / 2, y: r.top + Math.min(r.height / 2, 300)};
        });
        await e.page.mouse.move(box.x, box.y);
        await e.page.mouse.wheel(dx, dy);
        await settled(e);
        return {};
    },

    async window({page: name}) {
        const {page} = entry(name);
        return {window: await readWindow(page)};
    },

    async screenshot({page: name, path}) {
        const {page} = entry(name);
        await page.screenshot({path});
        return {path};
    },

    async closePage({page: name}) {
        const {context} = entry(name);
        pages.delete(name);
        await context.close();
        return {};
    },
};

function answer(obj) {
    process.stdout.write(`${JSON.stringify(obj)}\n`);
}

answer({id: 0, ok: true, ready: true, browser: browser.version()});

const lines = readline.createInterface({input: process.stdin});
for await (const line of lines) {
    if (!line.trim()) {
        continue;
    }
    let cmd;
    try {
        cmd = JSON.parse(line);
    } catch (err) {
        answer({id: null, ok: false, error: `not JSON: ${line}`});
        continue;
    }
    if (cmd.cmd === 'close') {
        break;
    }
    const started = Date.now();
    try {
        const fn = commands[cmd.cmd];
        if (!fn) {
            throw new Error(`unknown command ${cmd.cmd}`);
        }
        const result = await fn(cmd);
        answer({id: cmd.id, ok: true, ms: Date.now() - started, ...result});
    } catch (err) {
        let view = null;
        if (cmd.page && pages.has(cmd.page)) {
            view = await readView(pages.get(cmd.page).page).catch(() => null);
        }
        answer({id: cmd.id, ok: false, ms: Date.now() - started, error: String(err && err.stack || err),
                view, problems: cmd.page && pages.has(cmd.page) ? pages.get(cmd.page).problems : []});
    }
}
await browser.close();
