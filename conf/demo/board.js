/*
 * The demo board: loads and saves through mod_taskboard with the Bryntum CrudManager protocol,
 * the way the Bryntum client does it (docs/protocol.md, sections 1 "The load request" and 2
 * "The sync request"):
 *
 * - load: GET <api>/load?data=<URL-encoded JSON package>, every store of the board at once;
 * - sync: POST <api>/sync with a JSON body holding, per store, "added" records (every field
 *   plus a temporary "$PhantomId", no id), "updated" records (id plus the changed fields only)
 *   and "removed" ids; a new card's assignment names the card by its phantom id; the answer
 *   maps each phantom id to the real id and may carry other users' changes ("rows" and
 *   "removed" of records this page did not send);
 * - one sync at a time: changes made meanwhile wait for the next one, and a failed sync keeps
 *   its changes for the next (as the Bryntum client does); 409 (someone else changed what this
 *   page changed) shows the server's message and loads the board again;
 * - live: an EventSource on <api>/events; an event whose revision is above the page's makes
 *   the page send an empty sync (the client's forceSync), whose answer brings what others
 *   changed, or a load when the server says so ("reload").
 *
 * Every request carries the browser's credentials (cookies, Basic auth), also to another
 * origin: that is what TaskBoardAllowOrigin allows.
 */
'use strict';

(function () {
    // The page's own server by default; ?api= points it at another origin (a Bryntum front
    // end in development is often served by a dev server on another port).
    const API = (new URLSearchParams(location.search).get('api') || '/api').replace(/\/+$/, '');

    // The sample board's stores (conf/taskboard.conf): the cards, the people, who works on
    // what, and the board's columns (the cards' status) and swimlanes (the cards' prio).
    const STORES = ['tasks', 'resources', 'assignments', 'columns', 'swimlanes'];
    // Stores the page changes, in the order the server needs them: records first, then the
    // assignments that refer to them (the server orders them itself, but reading the answer
    // in this order lets an assignment find its card's new id).
    const WRITABLE = ['tasks', 'resources', 'assignments'];

    const records = {};             // storeId -> Map(key -> record); key: id, or $PhantomId while new
    const pending = {};             // storeId -> {added: Set, updated: Map(record -> Set(field)), removed: Set}
    for (const store of STORES) {
        records[store] = new Map();
        pending[store] = emptyChanges();
    }

    let revision = null;            // the board's revision as this page last saw it
    let newestEvent = 0;            // the highest revision an event announced
    let listening = false;          // the events stream is open (or being retried)
    let inflight = null;            // the changes of the sync under way
    let failed = false;             // the last sync failed: wait for the user (or the next change)
    let requestCounter = 0;
    let phantomCounter = 0;
    // counters the browser tests read from <body data-...>: how the page got its data
    const counts = {loads: 0, syncs: 0, liveSyncs: 0};

    const $ = (id) => document.getElementById(id);

    function emptyChanges() {
        return {added: new Set(), updated: new Map(), removed: new Set()};
    }

    function keyOf(record) {
        return record.id !== undefined ? record.id : record.$PhantomId;
    }

    // requestIds like the client's: a timestamp with a counter, unique per page.
    function nextRequestId() {
        requestCounter = (requestCounter + 1) % 100;
        return Date.now() * 100 + requestCounter;
    }

    // Phantom ids like the client's _generated<Model>_<uuid>; crypto.randomUUID exists only on
    // https and localhost, so a page served over plain http elsewhere falls back to a counter.
    function phantomId(model) {
        const unique = window.crypto && crypto.randomUUID
            ? crypto.randomUUID()
            : `${Date.now().toString(36)}-${(++phantomCounter).toString(36)}-${Math.random().toString(36).slice(2)}`;
        return `_generated${model}_${unique}`;
    }

    // ------------------------------------------------------------------------------------
    // talking to the server

    class ServerError extends Error {
        constructor(message, status) {
            super(message);
            this.status = status;
        }
    }

    // A request to the module; resolves with the JSON answer, or throws a ServerError with
    // the server's message (written for a person: docs/protocol.md section 3).
    async function call(url, options) {
        let response;
        try {
            response = await fetch(url, {credentials: 'include', cache: 'no-store', ...options});
        } catch (err) {
            // a network failure, or the browser refused the answer (CORS): no status to show
            throw new ServerError('the server could not be reached', 0);
        }
        let body = null;
        try {
            body = await response.json();
        } catch (err) {
            body = null;
        }
        if (!response.ok || !body || body.success === false) {
            const text = body && typeof body.message === 'string' ? body.message
                : `the server answered ${response.status} ${response.statusText}`;
            throw new ServerError(text, response.status);
        }
        return body;
    }

    async function load() {
        setStatus('loading');
        const pkg = {type: 'load', requestId: nextRequestId(), stores: STORES};
        try {
            const body = await call(`${API}/load?data=${encodeURIComponent(JSON.stringify(pkg))}`);
            applyLoad(body);
            failed = false;
            setStatus('saved');
            return true;
        } catch (err) {
            showMessage(`The board could not be loaded: ${err.message}`);
            setStatus('unsaved');
            return false;
        }
    }

    // A load answer replaces the stores it carries; local changes not yet saved are gone.
    function applyLoad(body) {
        for (const store of STORES) {
            const section = body[store];
            if (!section || !Array.isArray(section.rows)) {
                continue;           // an absent section leaves the store as it is
            }
            records[store].clear();
            for (const row of section.rows) {
                records[store].set(row.id, {...row});
            }
            pending[store] = emptyChanges();
        }
        if (body.revision !== undefined) {
            revision = body.revision;
        }
        counts.loads++;
        render();
    }

    function hasPending() {
        return WRITABLE.some((s) => pending[s].added.size || pending[s].updated.size
                                    || pending[s].removed.size);
    }

    // The sync package of the pending changes (docs/protocol.md section 2), or null when there are
    // none and force is not set.
    function buildPackage(changes, force) {
        const pkg = {type: 'sync', requestId: nextRequestId()};
        if (revision !== null) {
            pkg.revision = revision;
        }
        let any = false;
        for (const store of WRITABLE) {
            const c = changes[store];
            const section = {};
            if (c.added.size) {
                section.added = [...c.added].map((record) => ({...record}));
            }
            const updated = [];
            for (const [record, fields] of c.updated) {
                // a record still new is sent whole in "added"
                if (record.id === undefined) {
                    continue;
                }
                const row = {id: record.id};
                for (const field of fields) {
                    row[field] = record[field];
                }
                updated.push(row);
            }
            if (updated.length) {
                section.updated = updated;
            }
            const removed = [...c.removed].filter((r) => r.id !== undefined).map((r) => ({id: r.id}));
            if (removed.length) {
                section.removed = removed;
            }
            if (Object.keys(section).length) {
                pkg[store] = section;
                any = true;
            }
        }
        return any || force ? pkg : null;
    }

    // Sends what is pending.  force: send even an empty sync (to fetch others' changes).
    async function sync(force) {
        if (inflight) {
            return;                 // the running sync looks again when it is done
        }
        const changes = {};
        for (const store of WRITABLE) {
            changes[store] = pending[store];
            pending[store] = emptyChanges();
        }
        const pkg = buildPackage(changes, force);
        if (!pkg) {
            setStatus(failed ? 'unsaved' : 'saved');
            return;
        }
        const live = !hasAnyChange(changes);
        inflight = changes;
        setStatus('saving');
        let again = false;
        try {
            const body = await call(`${API}/sync`, {
                method: 'POST',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify(pkg),
            });
            inflight = null;
            failed = false;
            counts.syncs++;
            if (live) {
                counts.liveSyncs++;
            }
            if (body.type === 'load') {
                // the server could not tell what changed since our revision: a full answer
                applyLoad(body);
            }
            else {
                applySync(body);
            }
            again = hasPending() || newestEvent > (revision || 0);
        } catch (err) {
            inflight = null;
            if (err.status === 409) {
                // someone else changed what we changed: their version wins, ours is dropped
                showMessage(`${err.message} (the board was loaded again)`);
                await load();
                return;
            }
            // keep the changes for the next sync, as the Bryntum client does
            restore(changes);
            failed = true;
            showMessage(`Not saved: ${err.message}`);
        }
        render();
        if (again) {
            sync(newestEvent > (revision || 0));
        }
    }

    function hasAnyChange(changes) {
        return WRITABLE.some((s) => changes[s].added.size || changes[s].updated.size
                                    || changes[s].removed.size);
    }

    // Puts the changes of a failed sync back in front of those made since.
    function restore(changes) {
        for (const store of WRITABLE) {
            const c = changes[store];
            const p = pending[store];
            for (const record of c.added) {
                if (!p.removed.has(record)) {
                    p.added.add(record);
                }
            }
            for (const [record, fields] of c.updated) {
                const merged = p.updated.get(record) || new Set();
                fields.forEach((f) => merged.add(f));
                p.updated.set(record, merged);
            }
            for (const record of c.removed) {
                p.removed.add(record);
            }
        }
    }

    // A sync answer: real ids for the phantom records, values the server chose, and other
    // users' changes (rows of records this page did not send, removed ids).
    function applySync(body) {
        for (const store of STORES) {
            const section = body[store];
            if (!section) {
                continue;
            }
            for (const row of section.rows || []) {
                const phantom = row.$PhantomId;
                let record = phantom !== undefined ? records[store].get(phantom) : records[store].get(row.id);
                if (!record && phantom === undefined) {
                    records[store].set(row.id, {...row});     // added by someone else
                    continue;
                }
                if (!record) {
                    // deleted here while its add was under way: the pending removal
                    // needs the real id to reach the server
                    for (const doomed of pending[store].removed) {
                        if (doomed.$PhantomId === phantom) {
                            doomed.id = row.id;
                            delete doomed.$PhantomId;
                        }
                    }
                    continue;
                }
                // fields changed here since this sync went out keep their local values
                const local = pending[store] && pending[store].updated.get(record);
                const kept = {};
                (local || []).forEach((f) => { kept[f] = record[f]; });
                Object.assign(record, row, kept);
                if (phantom !== undefined) {
                    delete record.$PhantomId;
                    records[store].delete(phantom);
                    records[store].set(record.id, record);
                    replaceReference(store, phantom, record.id);
                }
            }
            for (const {id} of section.removed || []) {
                const record = records[store].get(id);
                records[store].delete(id);
                if (record && pending[store]) {
                    pending[store].updated.delete(record);
                    pending[store].removed.delete(record);
                }
            }
        }
        if (body.revision !== undefined) {
            revision = body.revision;
        }
    }

    // An assignment made with a new card or person names it by its phantom id until the
    // server has given it a real one.
    function replaceReference(store, phantom, id) {
        const field = store === 'tasks' ? 'eventId' : store === 'resources' ? 'resourceId' : null;
        if (!field) {
            return;
        }
        for (const assignment of records.assignments.values()) {
            if (assignment[field] === phantom) {
                assignment[field] = id;
            }
        }
    }

    // Other users' changes, announced by the events handler (docs/protocol.md section 7).
    // Only once the board is loaded: a page that could not load it (no access, wrong
    // password, server down) has nothing to follow, and its reload button starts over.
    function listen() {
        if (!window.EventSource) {
            return;
        }
        listening = true;
        const events = new EventSource(`${API}/events`, {withCredentials: true});
        events.onopen = () => $('live').classList.add('on');
        // the browser reconnects by itself (with Last-Event-ID), unless the server refused; a
        // refusal (503: the server has as many streams as it serves) is tried again later
        events.onerror = () => {
            $('live').classList.remove('on');
            if (events.readyState === EventSource.CLOSED) {
                setTimeout(listen, 30000);
            }
        };
        events.onmessage = (event) => {
            let data;
            try {
                data = JSON.parse(event.data);
            } catch (err) {
                return;
            }
            if (typeof data.revision !== 'number' || data.revision <= (revision || 0)) {
                return;             // our own sync, or one we have seen
            }
            newestEvent = Math.max(newestEvent, data.revision);
            if (data.reload && !inflight && !hasPending()) {
                load();             // the journal cannot tell what changed
            }
            else {
                sync(true);
            }
        };
    }

    // ------------------------------------------------------------------------------------
    // changes made on the page

    function markUpdated(store, record, fields) {
        const p = pending[store];
        if (p.added.has(record)) {
            return;                 // not sent yet: "added" carries every field
        }
        const set = p.updated.get(record) || new Set();
        fields.forEach((f) => set.add(f));
        p.updated.set(record, set);
    }

    function changed() {
        render();
        sync(false);
    }

    // A card dropped on a cell: its column is its status, its swimlane its prio.
    function moveCard(key, status, prio) {
        const task = records.tasks.get(key);
        if (!task) {
            return;
        }
        const fields = [];
        if (task.status !== status) {
            task.status = status;
            fields.push('status');
        }
        if (prio !== undefined && task.prio !== prio) {
            task.prio = prio;
            fields.push('prio');
        }
        if (fields.length) {
            markUpdated('tasks', task, fields);
            changed();
        }
    }

    function addCard(name, status, prio, resourceId) {
        let weight = 0;
        for (const t of records.tasks.values()) {
            weight = Math.max(weight, t.weight || 0);
        }
        // the fields the board uses; the server fills in its defaults for the others
        const task = {name, status, prio, weight: weight + 100, $PhantomId: phantomId('TaskModel')};
        records.tasks.set(task.$PhantomId, task);
        pending.tasks.added.add(task);
        if (resourceId !== null) {
            const assignment = {eventId: task.$PhantomId, resourceId,
                                $PhantomId: phantomId('AssignmentModel')};
            records.assignments.set(assignment.$PhantomId, assignment);
            pending.assignments.added.add(assignment);
        }
        changed();
    }

    function renameCard(key, name) {
        const task = records.tasks.get(key);
        if (!task || !name || task.name === name) {
            return;
        }
        task.name = name;
        markUpdated('tasks', task, ['name']);
        changed();
    }

    // Deleting a card deletes its assignments too; the client lists them itself
    // (docs/protocol.md section 2: "the client itself removes the deleted card's assignments").
    function deleteCard(key) {
        const task = records.tasks.get(key);
        if (!task) {
            return;
        }
        const doomed = [['tasks', task]];
        for (const a of records.assignments.values()) {
            if (a.eventId === key) {
                doomed.push(['assignments', a]);
            }
        }
        for (const [store, record] of doomed) {
            records[store].delete(keyOf(record));
            const p = pending[store];
            p.updated.delete(record);
            if (p.added.has(record)) {
                p.added.delete(record);     // never reached the server
            }
            else {
                p.removed.add(record);
            }
        }
        changed();
    }

    // ------------------------------------------------------------------------------------
    // the page

    function setStatus(status) {
        // "unsaved": changes the server does not hold yet (waiting, or the last sync failed)
        const shown = status === 'saved' && (hasPending() || failed) ? 'unsaved' : status;
        document.body.dataset.status = shown;
        $('status').textContent = shown;
        $('save').hidden = !(shown === 'unsaved' && !inflight);
        document.body.dataset.revision = revision === null ? '' : String(revision);
        document.body.dataset.loads = String(counts.loads);
        document.body.dataset.syncs = String(counts.syncs);
        document.body.dataset.liveSyncs = String(counts.liveSyncs);
    }

    function showMessage(text) {
        $('message-text').textContent = text;
        $('message').hidden = false;
    }

    function sorted(store) {
        // the server sends rows in the configured order (TaskBoardOrder); new ones go last
        return [...records[store].values()];
    }

    function option(value, text) {
        const o = document.createElement('option');
        o.value = value;
        o.textContent = text;
        return o;
    }

    // Keeps the form's choices in step with the stores, without losing the user's selection.
    function renderForm() {
        const form = $('add');
        const fill = (select, items) => {
            const chosen = select.value;
            select.replaceChildren(...items);
            if ([...select.options].some((o) => o.value === chosen)) {
                select.value = chosen;
            }
        };
        fill(form.elements.status, sorted('columns').map((c) => option(c.id, c.text)));
        fill(form.elements.prio, [option('', 'no swimlane'),
                                  ...sorted('swimlanes').map((l) => option(l.id, l.text))]);
        fill(form.elements.resource, [option('', 'no one'),
                                      ...sorted('resources').map((r) => option(String(r.id), r.name))]);
    }

    function renderCard(task) {
        const key = keyOf(task);
        const card = document.createElement('article');
        card.className = 'card';
        card.draggable = true;
        card.dataset.id = String(key);
        if (task.id === undefined) {
            card.classList.add('pending');
        }
        if (task.eventColor) {
            card.style.setProperty('--card-color', task.eventColor);
        }
        const name = document.createElement('h3');
        name.className = 'card-name';
        name.textContent = task.name;
        card.append(name);

        const people = document.createElement('ul');
        people.className = 'assignees';
        for (const a of records.assignments.values()) {
            if (a.eventId === key) {
                const person = records.resources.get(a.resourceId);
                const li = document.createElement('li');
                li.textContent = person ? person.name : '?';
                li.dataset.resourceId = String(a.resourceId);
                people.append(li);
            }
        }
        card.append(people);

        const actions = document.createElement('div');
        actions.className = 'card-actions';
        const rename = document.createElement('button');
        rename.type = 'button';
        rename.className = 'rename';
        rename.title = 'Rename';
        rename.textContent = '\u270E';
        rename.addEventListener('click', () => editName(card, name, key));
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'delete';
        remove.title = 'Delete';
        remove.textContent = '\u00D7';
        remove.addEventListener('click', () => deleteCard(key));
        actions.append(rename, remove);
        card.append(actions);

        card.addEventListener('dragstart', (event) => {
            event.dataTransfer.setData('text/plain', String(key));
            event.dataTransfer.effectAllowed = 'move';
            card.classList.add('dragging');
        });
        card.addEventListener('dragend', () => card.classList.remove('dragging'));
        return card;
    }

    // Renaming in place: Enter or leaving the field saves, Escape gives up.
    function editName(card, heading, key) {
        const input = document.createElement('input');
        heading.dataset.name = heading.textContent;
        input.value = heading.textContent;
        input.maxLength = 255;
        input.setAttribute('aria-label', 'Card name');
        heading.replaceChildren(input);
        card.draggable = false;
        input.focus();
        let done = false;
        const finish = (save) => {
            if (done) {
                return;
            }
            done = true;
            const value = input.value.trim();
            // the field goes first: the board is not drawn again while a name is being edited
            heading.textContent = save && value ? value : heading.dataset.name;
            card.draggable = true;
            if (save && value) {
                renameCard(key, value);
            }
            render();
        };
        input.addEventListener('keydown', (event) => {
            if (event.key === 'Enter') {
                finish(true);
            }
            else if (event.key === 'Escape') {
                finish(false);
            }
        });
        input.addEventListener('blur', () => finish(true));
    }

    function dropTarget(cell, status, prio) {
        cell.addEventListener('dragover', (event) => {
            event.preventDefault();         // allows the drop
            event.dataTransfer.dropEffect = 'move';
            cell.classList.add('over');
        });
        cell.addEventListener('dragleave', () => cell.classList.remove('over'));
        cell.addEventListener('drop', (event) => {
            event.preventDefault();
            cell.classList.remove('over');
            const text = event.dataTransfer.getData('text/plain');
            // real ids are numbers; a card still being saved has its phantom id
            const key = records.tasks.has(Number(text)) ? Number(text) : text;
            moveCard(key, status, prio);
        });
    }

    function render() {
        // an open name editor would be lost: the board is drawn again when it closes
        if (document.activeElement && document.activeElement.closest('.card-name')) {
            setStatus(inflight ? 'saving' : 'saved');
            return;
        }
        const board = $('board');
        const columns = sorted('columns');
        const lanes = sorted('swimlanes');
        const tasks = sorted('tasks').sort((a, b) => (a.weight || 0) - (b.weight || 0));
        const laneIds = new Set(lanes.map((l) => l.id));
        // cards whose prio names no swimlane (null, or a value no swimlane has) get a row of
        // their own
        const rows = lanes.map((l) => ({id: l.id, text: l.text, color: l.color}));
        if (tasks.some((t) => !laneIds.has(t.prio))) {
            rows.push({id: null, text: 'No swimlane', color: null});
        }

        const cells = [document.createElement('div')];
        for (const column of columns) {
            const head = document.createElement('div');
            head.className = 'column-head';
            head.dataset.column = column.id;
            if (column.color) {
                head.style.setProperty('--column-color', column.color);
            }
            const count = document.createElement('span');
            count.className = 'count';
            count.textContent = String(tasks.filter((t) => t.status === column.id).length);
            head.append(column.text, count);
            cells.push(head);
        }
        for (const lane of rows) {
            const head = document.createElement('div');
            head.className = 'lane-head';
            head.textContent = lane.text;
            if (lane.color) {
                head.style.setProperty('--lane-color', lane.color);
            }
            cells.push(head);
            for (const column of columns) {
                const cell = document.createElement('div');
                cell.className = 'cell';
                cell.dataset.column = column.id;
                cell.dataset.lane = lane.id === null ? '' : lane.id;
                const inLane = (t) => (lane.id === null ? !laneIds.has(t.prio) : t.prio === lane.id);
                for (const task of tasks) {
                    if (task.status === column.id && inLane(task)) {
                        cell.append(renderCard(task));
                    }
                }
                dropTarget(cell, column.id, lane.id);
                cells.push(cell);
            }
        }
        board.style.setProperty('--columns', String(columns.length));
        board.replaceChildren(...cells);
        board.setAttribute('aria-busy', 'false');
        renderForm();
        setStatus(inflight ? 'saving' : 'saved');
    }

    function start() {
        $('add').addEventListener('submit', (event) => {
            event.preventDefault();
            const form = event.target;
            const name = form.elements.name.value.trim();
            if (!name) {
                return;
            }
            const prio = form.elements.prio.value || null;
            const resource = form.elements.resource.value;
            addCard(name, form.elements.status.value, prio, resource === '' ? null : Number(resource));
            form.elements.name.value = '';
        });
        $('save').addEventListener('click', () => sync(false));
        $('reload').addEventListener('click', () => {
            load().then((ok) => ok && !listening && listen());
        });
        $('message-close').addEventListener('click', () => { $('message').hidden = true; });
        load().then((ok) => ok && listen());
    }

    start();
}());
