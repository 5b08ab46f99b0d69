// Drives a Bryntum 5.6 product page (conf/demo-gantt, demo-scheduler, demo-calendar,
// demo-taskboard: each sets window.app, the widget, window.crud, its CrudManager, and may set
// window.pending(), what it has to send that the board keeps, when not crud.changes) in Debian's
// chromium, for tests/integration/test_786_bryntum_browser.py (`make -f Makefile.apxs
// test-bryntum BRYNTUM_BUILD=dir`).
//
// The same line protocol as driver.mjs: one JSON command per line on stdin, one JSON answer per
// line on stdout ({"id", "ok": true, …} or {"id", "ok": false, "error"}).
//
// Commands (all but "open" and "close" take "page"):
//   open {url, timezone?, fields}  the page in a new context (the browser's time zone: timezone),
//                                  once loaded and saved.  fields: {storeId: [field, …]}, what
//                                  "view" reads of each store's records
//   view                           the records of the stores named in fields, as the client holds
//                                  them (dates as UTC ISO strings, records referred to by id; a
//                                  tree record's parentId and parentIndex from its place; a
//                                  calendar's "intervals" from its interval store), and the
//                                  page's state
//   run {script, syncs?}           runs an async function body in the page, then waits until
//                                  saved after `syncs` (default 1) more syncs; answers its value
//   eval {script}                  runs an async function body in the page; answers its value
//   drag {from, to, dx?, dy?, hold?}
//                                  drags with the mouse from the centre of the element matching
//                                  selector `from` to the centre of `to` (or by dx, dy pixels),
//                                  then waits until saved
//   click {selector, dbl?}         clicks (double-clicks) the element's centre, no wait
//   fill {selector, value}         types into an input, no wait
//   press {key}                    presses a key, no wait
//   waitSaved {syncs?}             until saved after that many more syncs than at the last
//                                  "mark"
//   mark                           remembers the number of syncs
//   reload                         the browser's reload, until loaded and saved
//   requests                       the load and sync requests since the last call, with answers
//   screenshot {path}              the page, as PNG
//   closePage | close
//
// Debian's chromium is launched through playwright-core; no browser is ever downloaded.

import readline from 'node:readline';
import {chromium} from 'playwright-core';

const EXECUTABLE = process.env.TB_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = Number(process.env.TB_BROWSER_TIMEOUT_MS || 20000);
// the engines and autoSync work after each change; a change is "done" when the page has stayed
// saved this long
const QUIET_MS = 600;

const browser = await chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});

const pages = new Map();            // name -> {context, page, problems, requests, fields, mark}

function entry(name) {
    const e = pages.get(name);
    if (!e) {
        throw new Error(`no page named ${name}`);
    }
    return e;
}

async function readView(page, fields) {
    return page.evaluate((fields) => {
        const iso = (d) => (d ? d.toISOString().replace(/\.000Z$/, 'Z') : null);
        const plain = (v) => (v instanceof Date ? iso(v) : v?.isModel ? v.id : v ?? null);
        const body = document.body;
        const state = {status: body.dataset.status, loads: Number(body.dataset.loads),
                       syncs: Number(body.dataset.syncs), message: body.dataset.message || null};
        const crud = window.crud;
        if (!crud) {
            return state;
        }
        const stores = {};
        for (const {storeId, store} of crud.crudStores) {
            if (!fields[storeId]) {
                continue;
            }
            const records = store.isTree
                ? store.allRecords.filter((r) => !r.isRoot)
                : (store.allRecords || store.records);
            stores[storeId] = records.map((rec) => {
                const out = {id: rec.id};
                for (const f of fields[storeId]) {
                    if (f === 'parentId' && store.isTree) {
                        out.parentId = rec.parent && !rec.parent.isRoot ? rec.parent.id : null;
                    }
                    else if (f === 'parentIndex' && store.isTree) {
                        out.parentIndex = rec.parentIndex;
                    }
                    else if (f === 'intervals') {
                        out.intervals = (rec.intervalStore?.records || []).map((i) => ({
                            id: i.id, name: i.name ?? null, startDate: iso(i.startDate),
                            endDate: iso(i.endDate), recurrentStartDate: i.recurrentStartDate ?? null,
                            recurrentEndDate: i.recurrentEndDate ?? null, isWorking: i.isWorking}));
                    }
                    else {
                        out[f] = plain(rec[f]);
                    }
                }
                return out;
            });
        }
        return {...state, changes: Boolean(window.pending ? window.pending() : crud.changes), stores};
    }, fields);
}

// Until the page is saved, has made `syncs` syncs at least and then stayed saved a moment (the
// engine may still answer a change with more changes, which autoSync sends).
async function waitSaved(page, minSyncs = 0) {
    const deadline = Date.now() + TIMEOUT;
    let quietSince = null;
    for (;;) {
        const s = await page.evaluate(() => {
            const body = document.body;
            const p = window.crud;
            return {status: body.dataset.status, syncs: Number(body.dataset.syncs),
                    loads: Number(body.dataset.loads), message: body.dataset.message,
                    // what the client would send: a Gantt's project counts changes of its own
                    // computed fields (effort) that it never sends among crudStoreHasChanges()
                    changes: p ? Boolean(window.pending ? window.pending() : p.changes) : true,
                    changed: p && p.changes ? JSON.stringify(p.changes) : null,
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

async function centre(page, selector) {
    const el = page.locator(selector).first();
    await el.waitFor({state: 'visible', timeout: TIMEOUT});
    await el.scrollIntoViewIfNeeded();
    const box = await el.boundingBox();
    if (!box) {
        throw new Error(`${selector} is not on the page`);
    }
    return {x: box.x + box.width / 2, y: box.y + box.height / 2};
}

async function mouseDrag(page, from, to, hold = 100) {
    // hover first, as a user does: the products show handles and terminals on hover
    await page.mouse.move(from.x - 5, from.y);
    await page.waitForTimeout(50);
    await page.mouse.move(from.x, from.y);
    await page.waitForTimeout(hold);
    await page.mouse.down();
    await page.waitForTimeout(50);
    const steps = 15;
    for (let i = 1; i <= steps; i++) {
        await page.mouse.move(from.x + (to.x - from.x) * i / steps, from.y + (to.y - from.y) * i / steps);
        await page.waitForTimeout(25);
    }
    await page.waitForTimeout(150);
    await page.mouse.up();
}

const commands = {
    async open({page: name, url, timezone, fields}) {
        if (pages.has(name)) {
            throw new Error(`page ${name} is open already`);
        }
        const context = await browser.newContext({
            viewport: {width: 1600, height: 900}, ...(timezone ? {timezoneId: timezone} : {})});
        const e = {context, problems: [], requests: [], fields: fields || {}, mark: 0, outside: []};
        // The machine has no network beyond loopback, and a page must not need it: a request
        // elsewhere (a build may carry analytics) is answered empty here and listed in "view".
        await context.route((url) => !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname),
                            (route) => {
                                e.outside.push(route.request().url());
                                return route.fulfill({status: 204, body: ''});
                            });
        const page = await context.newPage();
        e.page = page;
        page.on('pageerror', (err) => e.problems.push(`pageerror: ${err.message}`));
        page.on('console', (msg) => {
            if (msg.type() === 'error') {
                e.problems.push(`console: ${msg.text()}`);
            }
        });
        page.on('requestfinished', async (request) => {
            if (!/\/(load|sync)(\?|$)/.test(request.url())) {
                return;
            }
            const record = {method: request.method(), url: request.url(), body: request.postData()};
            e.requests.push(record);
            const response = await request.response();
            record.status = response ? response.status() : null;
            record.answer = response ? await response.text().catch(() => null) : null;
        });
        page.on('requestfailed', (request) => e.problems.push(
            `request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`));
        pages.set(name, e);
        await page.goto(url);
        await waitSaved(page);
        return {view: await readView(page, e.fields)};
    },

    async view({page: name}) {
        const e = entry(name);
        return {view: await readView(e.page, e.fields), problems: e.problems, outside: e.outside};
    },

    async run({page: name, script, syncs: more = 1}) {
        const e = entry(name);
        const before = await syncs(e.page);
        const value = await e.page.evaluate(`(async () => { ${script} })()`);
        await waitSaved(e.page, before + more);
        return {value, view: await readView(e.page, e.fields)};
    },

    async eval({page: name, script}) {
        const {page} = entry(name);
        return {value: await page.evaluate(`(async () => { ${script} })()`)};
    },

    async drag({page: name, from, to, dx = 0, dy = 0, hold}) {
        const e = entry(name);
        const before = await syncs(e.page);
        const start = await centre(e.page, from);
        const end = to ? await centre(e.page, to) : {x: start.x + dx, y: start.y + dy};
        await mouseDrag(e.page, start, {x: end.x + (to ? dx : 0), y: end.y + (to ? dy : 0)}, hold);
        await waitSaved(e.page, before + 1);
        return {view: await readView(e.page, e.fields)};
    },

    async click({page: name, selector, dbl}) {
        const {page} = entry(name);
        const at = await centre(page, selector);
        await (dbl ? page.mouse.dblclick(at.x, at.y) : page.mouse.click(at.x, at.y));
        await page.waitForTimeout(200);
        return {};
    },

    async fill({page: name, selector, value}) {
        const {page} = entry(name);
        const el = page.locator(selector).first();
        await el.waitFor({state: 'visible', timeout: TIMEOUT});
        await el.fill(value);
        return {};
    },

    async press({page: name, key}) {
        const {page} = entry(name);
        await page.keyboard.press(key);
        await page.waitForTimeout(150);
        return {};
    },

    async mark({page: name}) {
        const e = entry(name);
        e.mark = await syncs(e.page);
        return {};
    },

    async waitSaved({page: name, syncs: more = 1}) {
        const e = entry(name);
        await waitSaved(e.page, e.mark + more);
        return {view: await readView(e.page, e.fields)};
    },

    async reload({page: name}) {
        const e = entry(name);
        await e.page.reload();
        await waitSaved(e.page);
        return {view: await readView(e.page, e.fields)};
    },

    async requests({page: name}) {
        const e = entry(name);
        await e.page.waitForTimeout(50);
        const list = e.requests;
        e.requests = [];
        return {requests: list};
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
        const e = cmd.page && pages.get(cmd.page);
        if (e) {
            view = await readView(e.page, e.fields).catch(() => null);
        }
        answer({id: cmd.id, ok: false, ms: Date.now() - started, error: String(err && err.stack || err),
                view, problems: e ? e.problems : []});
    }
}
await browser.close();
