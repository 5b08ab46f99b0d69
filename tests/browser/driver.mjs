// Drives the demo board page (conf/demo) in Debian's chromium for the integration tests
// (tests/integration/test_750_browser.py).
//
// It reads one JSON command per line on stdin and answers each with one JSON line on stdout,
// {"id": …, "ok": true, …} or {"id": …, "ok": false, "error": "…"}, so that the test decides
// what happens next and checks the database between steps.  Each named page gets a browser
// context of its own: two pages are two users, with their own credentials and cookies.
//
// Commands (all but "open" and "close" take "page", the name given to "open"):
//   open {url, credentials?: {username, password, origin?}, block?: [url glob]}
//                                          the board, once it is loaded; requests to the
//                                          blocked URLs fail (a page that misses live events)
//   read                                   the board as the user sees it (see readBoard)
//   drag {card, column, lane, wait?}       drag and drop a card onto a cell, then wait until
//                                          saved (wait "load": until the board was loaded again)
//   add {name, column, lane, resource}     add a card with the form, wait until saved
//   rename {card, name} | delete {card}    the card's buttons, wait until saved
//   reload                                 the browser's reload, wait until loaded
//   waitCard {card, column?, name?, gone?, timeout?}   until the card looks like that
//   waitStatus {status, timeout?}          until the save indicator says so
//   waitLive {timeout?}                    until the page's event stream is open
//   fetch {url, init?}                     fetch() in the page, with credentials
//   screenshot {path}                      the whole page, as PNG
//   closePage                              closes the page and its context
//   close                                  ends the browser and this process
//
// Debian's chromium is launched through playwright-core; no browser is ever downloaded.

import readline from 'node:readline';
import {chromium} from 'playwright-core';

const EXECUTABLE = process.env.TB_CHROMIUM || '/usr/bin/chromium';
// Saving includes a database transaction; the sanitizer build of the module is slow.
const TIMEOUT = Number(process.env.TB_BROWSER_TIMEOUT_MS || 20000);

const browser = await chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    // This machine has no network beyond loopback: without these, chromium keeps trying to
    // reach Google's services at start and in the background.
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});

const pages = new Map();            // name -> {context, page, problems: []}

function entry(name) {
    const e = pages.get(name);
    if (!e) {
        throw new Error(`no page named ${name}`);
    }
    return e;
}

// The board as the user sees it, read from the DOM: every card with its cell and assignees,
// the save indicator, the message, and the counters the page keeps in <body data-…>.
async function readBoard(page) {
    return page.evaluate(() => {
        const body = document.body;
        const cards = [...document.querySelectorAll('.cell .card')].map((card) => {
            const cell = card.closest('.cell');
            return {
                id: card.dataset.id,
                name: card.querySelector('.card-name').textContent,
                column: cell.dataset.column,
                lane: cell.dataset.lane === '' ? null : cell.dataset.lane,
                assignees: [...card.querySelectorAll('.assignees li')].map((li) => li.dataset.resourceId),
                assigneeNames: [...card.querySelectorAll('.assignees li')].map((li) => li.textContent),
                pending: card.classList.contains('pending'),
            };
        });
        const message = document.getElementById('message');
        return {
            status: body.dataset.status,
            revision: body.dataset.revision === '' ? null : Number(body.dataset.revision),
            loads: Number(body.dataset.loads),
            syncs: Number(body.dataset.syncs),
            liveSyncs: Number(body.dataset.liveSyncs),
            live: document.getElementById('live').classList.contains('on'),
            message: message.hidden ? null : document.getElementById('message-text').textContent,
            columns: [...document.querySelectorAll('.column-head')].map((h) => h.dataset.column),
            lanes: [...document.querySelectorAll('.cell')].map((c) => c.dataset.lane)
                .filter((v, i, all) => all.indexOf(v) === i),
            cards,
        };
    });
}

// Waits until the page has answered a change: one more successful sync than before, and the
// indicator back at "saved".
async function waitSaved(page, syncsBefore) {
    await page.waitForFunction((before) => document.body.dataset.status === 'saved'
                                           && Number(document.body.dataset.syncs) > before,
                               syncsBefore, {timeout: TIMEOUT});
}

async function syncs(page) {
    return Number(await page.evaluate(() => document.body.dataset.syncs));
}

function card(id) {
    return `.cell .card[data-id="${id}"]`;
}

const commands = {
    async open({page: name, url, credentials, block}) {
        if (pages.has(name)) {
            throw new Error(`page ${name} is open already`);
        }
        const context = await browser.newContext(credentials ? {httpCredentials: credentials} : {});
        for (const glob of block || []) {
            await context.route(glob, (route) => route.abort());
        }
        const page = await context.newPage();
        const e = {context, page, problems: []};
        // what a user would not see but a developer must: script errors and failed requests
        page.on('pageerror', (err) => e.problems.push(`pageerror: ${err.message}`));
        page.on('console', (msg) => {
            if (msg.type() === 'error') {
                e.problems.push(`console: ${msg.text()}`);
            }
        });
        pages.set(name, e);
        await page.goto(url);
        await page.waitForFunction(() => ['saved', 'unsaved'].includes(document.body.dataset.status),
                                   null, {timeout: TIMEOUT});
        return {board: await readBoard(page)};
    },

    async read({page: name}) {
        const e = entry(name);
        return {board: await readBoard(e.page), problems: e.problems};
    },

    async drag({page: name, card: id, column, lane, wait}) {
        const {page} = entry(name);
        const before = await syncs(page);
        const loads = Number(await page.evaluate(() => document.body.dataset.loads));
        await page.dragAndDrop(card(id), `.cell[data-column="${column}"][data-lane="${lane ?? ''}"]`);
        if (wait === 'load') {
            await page.waitForFunction((n) => Number(document.body.dataset.loads) > n
                                              && document.body.dataset.status !== 'loading',
                                       loads, {timeout: TIMEOUT});
        }
        else {
            await waitSaved(page, before);
        }
        return {board: await readBoard(page)};
    },

    async add({page: name, name: cardName, column, lane, resource}) {
        const {page} = entry(name);
        const before = await syncs(page);
        await page.fill('#add input[name="name"]', cardName);
        await page.selectOption('#add select[name="status"]', column);
        await page.selectOption('#add select[name="prio"]', lane ?? '');
        await page.selectOption('#add select[name="resource"]', resource === null ? '' : String(resource));
        await page.click('#add button[type="submit"]');
        await waitSaved(page, before);
        return {board: await readBoard(page)};
    },

    async rename({page: name, card: id, name: newName}) {
        const {page} = entry(name);
        const before = await syncs(page);
        await page.click(`${card(id)} .rename`);
        await page.fill(`${card(id)} .card-name input`, newName);
        await page.press(`${card(id)} .card-name input`, 'Enter');
        await waitSaved(page, before);
        return {board: await readBoard(page)};
    },

    async delete({page: name, card: id}) {
        const {page} = entry(name);
        const before = await syncs(page);
        await page.click(`${card(id)} .delete`);
        await waitSaved(page, before);
        return {board: await readBoard(page)};
    },

    async reload({page: name}) {
        const {page} = entry(name);
        await page.reload();
        await page.waitForFunction(() => ['saved', 'unsaved'].includes(document.body.dataset.status)
                                         && Number(document.body.dataset.loads) > 0,
                                   null, {timeout: TIMEOUT});
        return {board: await readBoard(page)};
    },

    async waitCard({page: name, card: id, column, name: cardName, gone, timeout}) {
        const {page} = entry(name);
        await page.waitForFunction(({id, column, cardName, gone}) => {
            const el = document.querySelector(`.cell .card[data-id="${id}"]`);
            if (gone) {
                return !el;
            }
            return el && (column === undefined || el.closest('.cell').dataset.column === column)
                   && (cardName === undefined || el.querySelector('.card-name').textContent === cardName);
        }, {id, column, cardName, gone}, {timeout: timeout || TIMEOUT});
        return {board: await readBoard(page)};
    },

    async waitStatus({page: name, status, timeout}) {
        const {page} = entry(name);
        await page.waitForFunction((s) => document.body.dataset.status === s, status,
                                   {timeout: timeout || TIMEOUT});
        return {board: await readBoard(page)};
    },

    async waitLive({page: name, timeout}) {
        const {page} = entry(name);
        await page.waitForSelector('#live.on', {timeout: timeout || TIMEOUT});
        return {board: await readBoard(page)};
    },

    async fetch({page: name, url, init}) {
        const {page} = entry(name);
        return page.evaluate(async ({url, init}) => {
            try {
                const response = await fetch(url, {credentials: 'include', ...(init || {})});
                return {fetched: true, status: response.status, body: await response.text()};
            } catch (err) {
                // the browser's CORS refusal: a TypeError, no status, no body
                return {fetched: false, error: `${err.name}: ${err.message}`};
            }
        }, {url, init});
    },

    async closePage({page: name}) {
        const {context} = entry(name);
        pages.delete(name);
        await context.close();
        return {};
    },

    async screenshot({page: name, path}) {
        const {page} = entry(name);
        await page.screenshot({path, fullPage: true});
        return {path};
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
        let board = null;
        if (cmd.page && pages.has(cmd.page)) {
            board = await readBoard(pages.get(cmd.page).page).catch(() => null);
        }
        answer({id: cmd.id, ok: false, ms: Date.now() - started, error: String(err && err.stack || err),
                board, problems: cmd.page && pages.has(cmd.page) ? pages.get(cmd.page).problems : []});
    }
}
await browser.close();
