"""httpd refuses configurations that mod_taskboard cannot serve, naming the directive, the offending
token and the file and line (docs/configuration.md: "Everything is checked when httpd reads its configuration").

Each case is a test.conf text.  Lines starting with "!" are the offending ones (the "!" is
replaced by a space); the error must name one of them by number.
"""

import re

import pytest

import boards
import tbtest

# A board that passes -t: every case below breaks exactly one thing of something like it.
GOOD = """\
<Location /api>
    TaskBoardRevision options value name=revision
    <TaskBoardStore tasks>
        TaskBoardTable tasks
        TaskBoardId id auto
        TaskBoardOrder weight id
        TaskBoardField name string required maxlength=255 "default=New task"
        TaskBoardField weight int default=0
    </TaskBoardStore>
</Location>
<Location /api/load>
    SetHandler taskboard-load
</Location>
"""


def store_conf(*field_lines: str, head: str = "", loc_extra: str = "") -> str:
    """A tasks store in /api with the given lines inside the section."""
    body = "\n".join(f"        {ln}" if not ln.startswith("!") else f"!       {ln[1:]}"
                     for ln in field_lines)
    return (f"<Location /api>\n{loc_extra}"
            f"    <TaskBoardStore tasks>\n{head}{body}\n    </TaskBoardStore>\n"
            f"</Location>\n<Location /api/load>\n    SetHandler taskboard-load\n</Location>\n")


def project_conf(head: str, *field_lines: str, loc_extra: str = "", after: str = "") -> str:
    """GOOD's board with a <TaskBoardProject> section: head is its opening line (with "!" when
    it is the offending one), field_lines the lines inside."""
    body = "".join(f"        {ln}\n" if not ln.startswith("!") else f"!       {ln[1:]}\n"
                   for ln in field_lines)
    return GOOD.replace("<Location /api>\n", f"<Location /api>\n{loc_extra}", 1).replace(
        "</TaskBoardStore>\n", f"</TaskBoardStore>\n{head}\n{body}    </TaskBoardProject>\n"
                                f"{after}", 1)


# (id, test.conf, directive regex, tokens that must all appear, mod_dbd loaded)
CASES = [
    # <TaskBoardProject table [key]>: the board's project, one row
    ("project-twice", project_conf("    <TaskBoardProject project>", "TaskBoardField a string",
                                   after="!   <TaskBoardProject project2>\n"
                                         "        TaskBoardField b string\n"
                                         "    </TaskBoardProject>\n"),
     r"TaskBoardProject", ["already declared"], True),
    ("project-bad-table", project_conf("!   <TaskBoardProject pro-ject>", "TaskBoardField a string"),
     r"TaskBoardProject", ["pro-ject"], True),
    ("project-no-table", project_conf("!   <TaskBoardProject>", "TaskBoardField a string"),
     r"TaskBoardProject", ["needs a table"], True),
    ("project-bad-key", project_conf("!   <TaskBoardProject project i-d=1>",
                                     "TaskBoardField a string"),
     r"TaskBoardProject", ["i-d"], True),
    ("project-key-without-scope", project_conf("!   <TaskBoardProject boards id>",
                                               "TaskBoardField a string"),
     r"TaskBoardProject", ["keycolumn=value", "TaskBoardScope"], True),
    ("project-scope-fixed-key", project_conf(
        "!   <TaskBoardProject boards id=1>", "TaskBoardField a string",
        loc_extra="    TaskBoardScope board_id env=B\n").replace(
            "    TaskBoardRevision options value name=revision\n",
            "    TaskBoardRevision boards revision id\n"),
     r"TaskBoardProject", ["id=1", "TaskBoardScope"], True),
    ("project-before-scope", GOOD + "<Location /p>\n    <TaskBoardProject boards>\n"
     "        TaskBoardField a string\n    </TaskBoardProject>\n"
     "!   TaskBoardScope board_id env=B\n</Location>\n",
     r"TaskBoardScope", ["must come before", "TaskBoardProject"], True),
    ("project-bad-field", project_conf("    <TaskBoardProject project>",
                                       "!TaskBoardField startDate day"),
     r"TaskBoardField", ["day"], True),
    ("project-field-twice", project_conf("    <TaskBoardProject project>",
                                         "TaskBoardField a string", "!TaskBoardField a int"),
     r"TaskBoardField", ["already declared"], True),
    ("project-references", project_conf("    <TaskBoardProject project>",
                                        "!TaskBoardField task int references=tasks"),
     r"TaskBoardField", ["references="], True),
    ("project-table-inside", project_conf("    <TaskBoardProject project>",
                                          "TaskBoardField a string", "!TaskBoardTable other"),
     r"TaskBoardTable", ["arguments"], True),
    ("project-id-inside", project_conf("    <TaskBoardProject project>",
                                       "TaskBoardField a string", "!TaskBoardId id string"),
     r"TaskBoardId", ["arguments"], True),
    ("project-no-fields", project_conf("!   <TaskBoardProject project>"),
     r"TaskBoardProject", ["TaskBoardField"], True),
    ("project-and-store-project", project_conf(
        "    <TaskBoardProject project>", "TaskBoardField a string",
        after="!   <TaskBoardStore project>\n        TaskBoardField b string\n"
              "    </TaskBoardStore>\n"),
     r"TaskBoardStore", ["project"], True),
    ("project-store-table", project_conf("!   <TaskBoardProject tasks>", "TaskBoardField a string"),
     r"TaskBoardProject", ["tasks", "no store uses"], True),
    ("store-project-table", project_conf(
        "    <TaskBoardProject notes>", "TaskBoardField a string",
        after="!   <TaskBoardStore notes>\n        TaskBoardField b string\n"
              "    </TaskBoardStore>\n"),
     r"TaskBoardStore", ["notes", "no store uses"], True),
    ("project-scope-elsewhere", project_conf(
        "    <TaskBoardProject boards>", "TaskBoardField a string")
     .replace("<Location /api>\n", "<Location /api>\n    TaskBoardScope board_id env=B\n"
              "    TaskBoardRevision boards revision id\n", 1)
     .replace("    TaskBoardRevision options value name=revision\n", "")
     .replace("<TaskBoardStore tasks>", "TaskBoardJournal j\n    <TaskBoardStore tasks>")
     + "<Location /api/load>\n!   <TaskBoardProject other>\n        TaskBoardField a string\n"
       "    </TaskBoardProject>\n</Location>\n",
     r"TaskBoardProject", ["TB00010"], True),
    ("unknown-type", store_conf("TaskBoardField name string", "!TaskBoardField weight integer"),
     r"TaskBoardField", ["integer"], True),
    ("no-type", store_conf("TaskBoardField name string", "!TaskBoardField weight"),
     r"TaskBoardField", [], True),
    ("bad-table", store_conf("!TaskBoardTable bad-name", "TaskBoardField name string"),
     r"TaskBoardTable", ["bad-name"], True),
    ("bad-column-option", store_conf("!TaskBoardField name string column=x;drop"),
     r"TaskBoardField", ["x;drop"], True),
    ("id-column-space", store_conf('!TaskBoardId "my id" auto', "TaskBoardField name string"),
     r"TaskBoardId", ["my id"], True),
    ("id-column-backtick", store_conf("!TaskBoardId id`x auto", "TaskBoardField name string"),
     r"TaskBoardId", ["id`x"], True),
    ("id-kind", store_conf("!TaskBoardId id uuid", "TaskBoardField name string"),
     r"TaskBoardId", ["uuid"], True),
    ("order-column", store_conf("!TaskBoardOrder weight-1 id", "TaskBoardField name string"),
     r"TaskBoardOrder", ["weight-1"], True),
    ("lazy-kind", store_conf("TaskBoardField name string", "!TaskBoardLazyLoad pages"),
     r"TaskBoardLazyLoad", ["rows", "span"], True),
    ("lazy-span-undeclared", store_conf("TaskBoardField start datetime",
                                        "!TaskBoardLazyLoad span start finish"),
     r"TaskBoardLazyLoad", ["finish", "declare"], True),
    ("lazy-span-type", store_conf("TaskBoardField start datetime", "TaskBoardField name string",
                                  "!TaskBoardLazyLoad span start name"),
     r"TaskBoardLazyLoad", ["name", "string", "date"], True),
    ("lazy-maxdays", store_conf("TaskBoardField start datetime", "TaskBoardField end datetime",
                                "!TaskBoardLazyLoad span start end maxdays=0"),
     r"TaskBoardLazyLoad", ["maxdays", "0"], True),
    ("lazy-follow-nothing", store_conf("TaskBoardField parentId int references=tasks",
                                       "!TaskBoardLazyLoad follow"),
     r"TaskBoardLazyLoad", ["follow", "span"], True),
    ("lazy-twice", store_conf("TaskBoardField name string", "TaskBoardLazyLoad rows",
                              "!TaskBoardLazyLoad rows"),
     r"TaskBoardLazyLoad", ["already"], True),
    ("lazy-outside-store", store_conf("TaskBoardField name string",
                                      loc_extra="!   TaskBoardLazyLoad rows\n"),
     r"TaskBoardLazyLoad", ["TaskBoardStore"], True),
    ("revision-table", store_conf("TaskBoardField name string",
                                  loc_extra="!   TaskBoardRevision opt.ions value name=revision\n"),
     r"TaskBoardRevision", ["opt.ions"], True),
    ("revision-column", store_conf("TaskBoardField name string",
                                   loc_extra="!   TaskBoardRevision options val-ue name=revision\n"),
     r"TaskBoardRevision", ["val-ue"], True),
    ("revision-keycolumn", store_conf("TaskBoardField name string",
                                      loc_extra="!   TaskBoardRevision options value na-me=revision\n"),
     r"TaskBoardRevision", ["na-me"], True),
    ("nested-no-reference", store_conf("TaskBoardField calendar string",
                                       "!TaskBoardNested calendar intervals"),
     r"TaskBoardNested", ["calendar", "references="], True),
    ("nested-self", store_conf("TaskBoardField parentId int references=tasks",
                               "!TaskBoardNested parentId children"),
     r"TaskBoardNested", ["parentId", "itself"], True),
    ("nested-bad-key", store_conf("TaskBoardField parentId int references=other",
                                  "!TaskBoardNested parentId bad-key"),
     r"TaskBoardNested", ["bad-key"], True),
    ("nested-two-levels", """\
<Location /api>
    <TaskBoardStore calendars>
        TaskBoardId id string
    </TaskBoardStore>
    <TaskBoardStore intervals>
        TaskBoardField calendar string references=calendars
        TaskBoardNested calendar intervals
    </TaskBoardStore>
    <TaskBoardStore notes>
        TaskBoardField interval int references=intervals
!       TaskBoardNested interval notes
    </TaskBoardStore>
</Location>
<Location /api/load>
    SetHandler taskboard-load
</Location>
""", r"TaskBoardNested", ["notes", "one level"], True),
    ("nested-key-taken", """\
<Location /api>
    <TaskBoardStore calendars>
        TaskBoardId id string
        TaskBoardField intervals json
    </TaskBoardStore>
    <TaskBoardStore intervals>
        TaskBoardField calendar string references=calendars
!       TaskBoardNested calendar intervals
    </TaskBoardStore>
</Location>
<Location /api/load>
    SetHandler taskboard-load
</Location>
""", r"TaskBoardNested", ["intervals", "taken"], True),
    ("duplicate-store", """\
<Location /api>
    <TaskBoardStore tasks>
        TaskBoardField name string
    </TaskBoardStore>
!   <TaskBoardStore tasks>
        TaskBoardField description text
    </TaskBoardStore>
</Location>
<Location /api/load>
    SetHandler taskboard-load
</Location>
""", r"TaskBoardStore", ["tasks"], True),
    ("duplicate-field", store_conf("TaskBoardField title string column=name",
                                   "!TaskBoardField title text column=description"),
     r"TaskBoardField", ["title"], True),
    ("duplicate-column", store_conf("TaskBoardField description text",
                                    "!TaskBoardField notes text column=description"),
     r"TaskBoardField", ["description"], True),
    ("alias-duplicate", store_conf("TaskBoardField name string",
                                   "TaskBoardField fromId int alias=fromEvent,fromTask",
                                   "!TaskBoardField toId int alias=toEvent,fromTask"),
     r"TaskBoardField", ["fromTask", "fromId"], True),
    ("alias-is-field-name", store_conf("TaskBoardField name string",
                                       "!TaskBoardField title string alias=name"),
     r"TaskBoardField", ["name", "title"], True),
    ("field-name-is-alias", store_conf("TaskBoardField name string alias=caption",
                                       "!TaskBoardField caption string"),
     r"TaskBoardField", ["caption", "name"], True),
    ("alias-identifier", store_conf("!TaskBoardField name string alias=title,from-event"),
     r"TaskBoardField", ["from-event"], True),
    ("alias-twice", store_conf("!TaskBoardField name string alias=title,title"),
     r"TaskBoardField", ["title"], True),
    ("alias-id", store_conf("!TaskBoardField name string alias=id"),
     r"TaskBoardField", ["alias 'id'"], True),
    ("sync-response-value", store_conf("TaskBoardField name string",
                                       loc_extra="!   TaskBoardSyncResponse long\n"),
     r"TaskBoardSyncResponse", ["long", "short|full"], True),
    ("sync-response-inside-store", store_conf("TaskBoardField name string",
                                              "!TaskBoardSyncResponse full"),
     r"TaskBoardSyncResponse", ["outside"], True),
    ("unknown-reference", store_conf("TaskBoardField name string",
                                     "!TaskBoardField parentId int column=parent_id references=nosuch"),
     r"TaskBoardField", ["nosuch"], True),
    ("reference-type-string-to-auto", store_conf(
        "TaskBoardField name string",
        "!TaskBoardField parentId string column=parent_id references=tasks"),
     r"TaskBoardField", ["parentId", "tasks"], True),
    ("reference-type-int-to-string", """\
<Location /api>
    <TaskBoardStore columns>
        TaskBoardId id string
        TaskBoardField text string
    </TaskBoardStore>
    <TaskBoardStore tasks>
        TaskBoardField name string
!       TaskBoardField status int references=columns
    </TaskBoardStore>
</Location>
<Location /api/load>
    SetHandler taskboard-load
</Location>
""", r"TaskBoardField", ["status", "columns"], True),
    ("no-mod-dbd", """\
<Location /api>
!   <TaskBoardStore tasks>
        TaskBoardField name string
    </TaskBoardStore>
</Location>
<Location /api/load>
    SetHandler taskboard-load
</Location>
""", r"TaskBoardStore", ["mod_dbd"], False),
    ("load-handler-without-store", GOOD + """\
!<Location /other>
!   SetHandler taskboard-load
</Location>
""", r"SetHandler|taskboard-load", ["taskboard-load"], True),
    ("sync-handler-without-store", GOOD + """\
!<Location /other>
!   SetHandler taskboard-sync
</Location>
""", r"SetHandler|taskboard-sync", ["taskboard-sync"], True),
    ("field-outside-store", """\
<Location /api>
    <TaskBoardStore tasks>
        TaskBoardField name string
    </TaskBoardStore>
!   TaskBoardField weight int
</Location>
<Location /api/load>
    SetHandler taskboard-load
</Location>
""", r"TaskBoardField", ["TaskBoardStore"], True),
    ("order-outside-store", GOOD + "!TaskBoardOrder weight\n",
     r"TaskBoardOrder", ["TaskBoardStore"], True),
    ("unknown-field-option", store_conf("!TaskBoardField name string colour=red"),
     r"TaskBoardField", ["colour"], True),
    ("default-int", store_conf("TaskBoardField name string", "!TaskBoardField weight int default=abc"),
     r"TaskBoardField", ["abc"], True),
    ("default-number", store_conf("TaskBoardField name string",
                                  "!TaskBoardField weight number default=1.2.3"),
     r"TaskBoardField", ["1.2.3"], True),
    ("default-boolean", store_conf("TaskBoardField name string",
                                   "!TaskBoardField readOnly boolean column=read_only default=maybe"),
     r"TaskBoardField", ["maybe"], True),
    ("default-date", store_conf("TaskBoardField name string",
                                "!TaskBoardField deadline date default=2024-02-30"),
     r"TaskBoardField", ["2024-02-30"], True),
    ("default-not-in-values", store_conf("TaskBoardField name string",
                                         "!TaskBoardField status string values=todo,done default=doing"),
     r"TaskBoardField", ["doing"], True),
    ("default-too-long", store_conf("!TaskBoardField name string maxlength=3 default=toolong"),
     r"TaskBoardField", ["toolong"], True),
    ("maxlength-zero", store_conf("!TaskBoardField name string maxlength=0"),
     r"TaskBoardField", ["maxlength"], True),
    ("maxlength-negative", store_conf("!TaskBoardField name string maxlength=-5"),
     r"TaskBoardField", ["-5"], True),
    ("maxlength-word", store_conf("!TaskBoardField name string maxlength=abc"),
     r"TaskBoardField", ["abc"], True),
    ("maxlength-trailing", store_conf("!TaskBoardField name string maxlength=10x"),
     r"TaskBoardField", ["10x"], True),
    ("store-missing-gt", """\
<Location /api>
!   <TaskBoardStore tasks
        TaskBoardField name string
    </TaskBoardStore>
</Location>
<Location /api/load>
    SetHandler taskboard-load
</Location>
""", r"TaskBoardStore", ["'>'"], True),
    ("store-missing-id", """\
<Location /api>
!   <TaskBoardStore>
        TaskBoardField name string
    </TaskBoardStore>
</Location>
<Location /api/load>
    SetHandler taskboard-load
</Location>
""", r"TaskBoardStore", [], True),
    ("max-body-size", GOOD + "!TaskBoardMaxBodySize 12abc\n",
     r"TaskBoardMaxBodySize", ["12abc"], True),
    ("store-two-ids", """\
<Location /api>
!   <TaskBoardStore tasks cards>
        TaskBoardField name string
    </TaskBoardStore>
</Location>
""", r"TaskBoardStore", ["cards"], True),
    ("store-bad-id", """\
<Location /api>
!   <TaskBoardStore task-list>
        TaskBoardField name string
    </TaskBoardStore>
</Location>
""", r"TaskBoardStore", ["task-list"], True),
    ("store-nested", """\
<Location /api>
    <TaskBoardStore tasks>
        TaskBoardField name string
!       <TaskBoardStore inner>
        </TaskBoardStore>
    </TaskBoardStore>
</Location>
""", r"TaskBoardStore", ["nested"], True),
    ("order-asc-first", store_conf("!TaskBoardOrder ASC weight", "TaskBoardField name string"),
     r"TaskBoardOrder", ["ASC"], True),
    ("order-empty", store_conf("!TaskBoardOrder", "TaskBoardField name string"),
     r"TaskBoardOrder", [], True),
    ("values-empty", store_conf("!TaskBoardField status string values=,"),
     r"TaskBoardField", ["values="], True),
    ("values-wrong-type", store_conf("!TaskBoardField weight int values=1,two"),
     r"TaskBoardField", ["two"], True),
    ("values-on-boolean", store_conf("!TaskBoardField readOnly boolean column=read_only "
                                     "values=true"),
     r"TaskBoardField", ["values=", "boolean"], True),
    ("maxlength-on-int", store_conf("!TaskBoardField weight int maxlength=5"),
     r"TaskBoardField", ["maxlength=", "int"], True),
    ("references-bad-store", store_conf("!TaskBoardField parentId int column=parent_id "
                                        "references=a-b"),
     r"TaskBoardField", ["a-b"], True),
    ("references-on-date", store_conf("!TaskBoardField deadline date references=tasks"),
     r"TaskBoardField", ["references=", "date"], True),
    ("field-bad-name", store_conf("!TaskBoardField due-date date column=deadline"),
     r"TaskBoardField", ["due-date"], True),
    ("field-named-id", store_conf("!TaskBoardField id int"),
     r"TaskBoardField", ["TaskBoardId"], True),
    ("id-column-taken", store_conf("TaskBoardField name string", "!TaskBoardId name string"),
     r"TaskBoardId", ["name"], True),
    ("revision-too-few", store_conf("TaskBoardField name string",
                                    loc_extra="!   TaskBoardRevision options\n"),
     r"TaskBoardRevision", [], True),
    ("revision-key-without-value", store_conf("TaskBoardField name string",
                                              loc_extra="!   TaskBoardRevision options value "
                                                        "name\n"),
     r"TaskBoardRevision", ["keycolumn=value"], True),
    ("revision-inside-store", store_conf("TaskBoardField name string",
                                         "!TaskBoardRevision options value name=revision"),
     r"TaskBoardRevision", ["outside"], True),
    ("param-name", GOOD + "!TaskBoardParam 'da ta'\n",
     r"TaskBoardParam", ["da ta"], True),
    ("retry-tables-missing", GOOD + "!TaskBoardRetryTables taskboard_phantoms\n",
     r"TaskBoardRetryTables", [], True),
    ("retry-tables-bad-name", GOOD + "!TaskBoardRetryTables phantoms requests-x\n",
     r"TaskBoardRetryTables", ["requests-x"], True),
    ("retry-tables-retention", GOOD + "!TaskBoardRetryTables phantoms requests 10\n",
     r"TaskBoardRetryTables", ["10"], True),
    ("conflict-policy", GOOD + "!TaskBoardConflictPolicy merge\n",
     r"TaskBoardConflictPolicy", ["merge", "reject|record|off"], True),
    # the record policy and the events handler need the journal, the journal the revision: a
    # directive that applies elsewhere does not count
    ("record-without-journal", GOOD + "<Location /api>\n!   TaskBoardConflictPolicy record\n"
     "</Location>\n<Location /other>\n    TaskBoardJournal taskboard_journal\n</Location>\n",
     r"TaskBoardConflictPolicy", ["TB00006", "TaskBoardJournal"], True),
    ("journal-without-revision", store_conf("TaskBoardField name string",
                                            loc_extra="!   TaskBoardJournal taskboard_journal\n"),
     r"TaskBoardJournal", ["TB00007", "TaskBoardRevision"], True),
    ("events-without-journal", GOOD + "<Location /api/events>\n!   SetHandler taskboard-events\n"
     "</Location>\n", r"SetHandler", ["TB00008", "TaskBoardJournal"], True),
    ("journal-bad-name", GOOD + "!TaskBoardJournal journal-x\n",
     r"TaskBoardJournal", ["journal-x"], True),
    ("journal-retention", GOOD + "!TaskBoardJournal taskboard_journal 0\n",
     r"TaskBoardJournal", ["0"], True),
    ("events-poll-in-location", GOOD + "<Location /api>\n!   TaskBoardEventsPoll 1\n"
     "</Location>\n", r"TaskBoardEventsPoll", ["Location"], True),
    ("events-poll-in-vhost", GOOD + "<VirtualHost 127.0.0.1:9>\n!   TaskBoardEventsPoll 1\n"
     "</VirtualHost>\n", r"TaskBoardEventsPoll", ["main server"], True),
    ("events-poll-too-short", GOOD + "!TaskBoardEventsPoll 10ms\n",
     r"TaskBoardEventsPoll", ["10ms"], True),
    ("events-heartbeat-word", GOOD + "!TaskBoardEventsHeartbeat often\n",
     r"TaskBoardEventsHeartbeat", ["often"], True),
    ("events-lifetime-too-long", GOOD + "!TaskBoardEventsLifetime 2d\n",
     r"TaskBoardEventsLifetime", ["2d"], True),
    ("max-records", GOOD + "!TaskBoardMaxRecords 0\n",
     r"TaskBoardMaxRecords", ["0"], True),
    ("ignore-store", GOOD + "!TaskBoardIgnoreStore project cal-endars\n",
     r"TaskBoardIgnoreStore", ["cal-endars"], True),
    ("load-cache-flag", GOOD + "!TaskBoardLoadCache sometimes\n",
     r"TaskBoardLoadCache", [], True),
    ("load-cache-size-word", GOOD + "!TaskBoardLoadCacheSize 32M\n",
     r"TaskBoardLoadCacheSize", ["32M"], True),
    ("load-cache-size-largest", GOOD + "!TaskBoardLoadCacheSize 1000 2000\n",
     r"TaskBoardLoadCacheSize", ["2000"], True),
    ("load-cache-size-in-location", GOOD + "<Location /api>\n!   TaskBoardLoadCacheSize 1000\n"
     "</Location>\n", r"TaskBoardLoadCacheSize", [], True),
    ("load-cache-size-in-vhost", GOOD + "<VirtualHost 127.0.0.1:9>\n"
     "!   TaskBoardLoadCacheSize 1000\n</VirtualHost>\n",
     r"TaskBoardLoadCacheSize", ["main server"], True),
    ("stamp-unknown", store_conf("!TaskBoardField who string stamp=changed-by"),
     r"TaskBoardField", ["changed-by", "created-by"], True),
    ("stamp-user-on-int", store_conf("!TaskBoardField who int stamp=updated-by"),
     r"TaskBoardField", ["updated-by", "int"], True),
    ("stamp-time-on-date", store_conf("!TaskBoardField at date stamp=created-at"),
     r"TaskBoardField", ["created-at", "datetime"], True),
    ("field-min-on-string", store_conf("!TaskBoardField name string min=1"),
     r"TaskBoardField", ["min=", "string"], True),
    ("field-min-above-max", store_conf("!TaskBoardField weight int min=5 max=1"),
     r"TaskBoardField", ["min="], True),
    ("field-max-not-number", store_conf("!TaskBoardField weight int max=lots"),
     r"TaskBoardField", ["lots"], True),
    # TaskBoardScope: before what it scopes, a known source and type, a revision per board
    ("scope-after-store", store_conf("TaskBoardField name string")
     .replace("</TaskBoardStore>\n", "</TaskBoardStore>\n!   TaskBoardScope board_id env=B\n"),
     r"TaskBoardScope", ["TaskBoardStore"], True),
    ("scope-source", store_conf("TaskBoardField name string",
                                loc_extra="!   TaskBoardScope board_id header=X-Board\n"),
     r"TaskBoardScope", ["header=X-Board", "env=", "param="], True),
    ("scope-column", store_conf("TaskBoardField name string",
                                loc_extra="!   TaskBoardScope board-id env=B\n"),
     r"TaskBoardScope", ["board-id"], True),
    ("scope-type", store_conf("TaskBoardField name string",
                              loc_extra="!   TaskBoardScope board_id env=B uuid\n"),
     r"TaskBoardScope", ["uuid"], True),
    ("scope-twice", store_conf("TaskBoardField name string",
                               loc_extra="    TaskBoardScope board_id env=B\n"
                                         "!   TaskBoardScope team env=T\n"),
     r"TaskBoardScope", ["already"], True),
    ("scope-revision-fixed-key", store_conf(
        "TaskBoardField name string", loc_extra="    TaskBoardScope board_id env=B\n"
                                                "!   TaskBoardRevision boards revision id=1\n"),
     r"TaskBoardRevision", ["id=1", "TaskBoardScope"], True),
    ("revision-key-without-scope", store_conf(
        "TaskBoardField name string", loc_extra="!   TaskBoardRevision boards revision id\n"),
     r"TaskBoardRevision", ["TaskBoardScope"], True),
    ("scope-without-revision", store_conf(
        "TaskBoardField name string", loc_extra="!   TaskBoardScope board_id env=B\n"),
     r"TaskBoardScope", ["TB00011", "TaskBoardRevision"], True),
    ("scope-journal-elsewhere", "!TaskBoardJournal board_journal\n" + store_conf(
        "TaskBoardField name string", loc_extra="    TaskBoardScope board_id env=B\n"
                                                "    TaskBoardRevision boards revision id\n"),
     r"TaskBoardJournal", ["TB00010", "TaskBoardScope"], True),
    ("authz-placeholder", store_conf("TaskBoardField name string", loc_extra=(
        '!   TaskBoardAuthzQuery "SELECT a FROM acl WHERE u = %s AND b = %d"\n')),
     r"TaskBoardAuthzQuery", ["%d"], True),
    ("authz-no-user", store_conf("TaskBoardField name string", loc_extra=(
        '!   TaskBoardAuthzQuery "SELECT \'write\' FROM acl WHERE u LIKE \'a%%\'"\n')),
     r"TaskBoardAuthzQuery", ["has 0"], True),
    ("authz-board-missing", store_conf(
        "TaskBoardField name string", loc_extra="    TaskBoardScope board_id env=B\n"
                                                "    TaskBoardRevision boards revision id\n"
                                                '!   TaskBoardAuthzQuery "SELECT a FROM acl '
                                                'WHERE u = %s"\n'),
     r"TaskBoardAuthzQuery", ["second %s"], True),
    # a query binding the board where no TaskBoardScope gives one: -t refuses the handler's
    # location instead of every request answering 500 (TB00164)
    ("authz-board-without-scope", store_conf("TaskBoardField name string", loc_extra=(
        '    TaskBoardAuthzQuery "SELECT a FROM acl WHERE u = %s AND b = %s"\n'))
     .replace("    SetHandler taskboard-load", "!   SetHandler taskboard-load"),
     r"SetHandler", ["TB00012", "TaskBoardAuthzQuery", "TaskBoardScope"], True),
    ("scope-inner-store", store_conf(
        "TaskBoardField name string", loc_extra="    TaskBoardScope board_id env=B\n"
                                                "    TaskBoardRevision boards revision id\n")
     + "<Location /api/load>\n!   <TaskBoardStore notes>\n        TaskBoardField text string\n"
       "    </TaskBoardStore>\n</Location>\n",
     r"TaskBoardStore", ["TB00010", "notes"], True),
    # TaskBoardAllowOrigin: scheme://host[:port], each origin checked as it is read
    ("allow-origin-star", GOOD + "!TaskBoardAllowOrigin *\n",
     r"TaskBoardAllowOrigin", ["'*'", "credentials"], True),
    ("allow-origin-null", GOOD + "!TaskBoardAllowOrigin http://localhost:5173 null\n",
     r"TaskBoardAllowOrigin", ["'null'"], True),
    ("allow-origin-no-scheme", GOOD + "!TaskBoardAllowOrigin board.example.com\n",
     r"TaskBoardAllowOrigin", ["board.example.com", "scheme://host[:port]"], True),
    ("allow-origin-path", GOOD + "!TaskBoardAllowOrigin https://board.example.com/app\n",
     r"TaskBoardAllowOrigin", ["https://board.example.com/app", "path"], True),
    ("allow-origin-trailing-slash", GOOD + "!TaskBoardAllowOrigin http://localhost:5173/\n",
     r"TaskBoardAllowOrigin", ["http://localhost:5173/"], True),
    ("allow-origin-port", GOOD + "!TaskBoardAllowOrigin http://localhost:70000\n",
     r"TaskBoardAllowOrigin", ["70000", "port"], True),
    ("allow-origin-user", GOOD + "!TaskBoardAllowOrigin http://nora:pw@localhost\n",
     r"TaskBoardAllowOrigin", ["password"], True),
    ("allow-origin-no-host", GOOD + "!TaskBoardAllowOrigin https://:8443\n",
     r"TaskBoardAllowOrigin", ["host"], True),
    ("allow-origin-inside-store", store_conf("TaskBoardField name string",
                                             "!TaskBoardAllowOrigin http://localhost:5173"),
     r"TaskBoardAllowOrigin", ["outside"], True),
    # TaskBoardTree: its fields are checked when the section ends, and the message names its line
    ("tree-parent-undeclared", store_conf("TaskBoardField name string", "!TaskBoardTree parentId"),
     r"TaskBoardTree", ["parentId", "not a field"], True),
    ("tree-parent-no-references", store_conf(
        "!TaskBoardTree parentId parentIndex",
        "TaskBoardField parentId int column=parent_id",
        "TaskBoardField parentIndex int column=weight"),
     r"TaskBoardTree", ["parentId", "references=tasks"], True),
    ("tree-parent-references-other-store", """\
<Location /api>
    <TaskBoardStore resources>
        TaskBoardField name string
    </TaskBoardStore>
    <TaskBoardStore tasks>
        TaskBoardField owner int column=parent_id references=resources
!       TaskBoardTree owner
    </TaskBoardStore>
</Location>
<Location /api/load>
    SetHandler taskboard-load
</Location>
""", r"TaskBoardTree", ["owner", "references=tasks"], True),
    ("tree-order-undeclared", store_conf("TaskBoardField parentId int column=parent_id references=tasks",
                                         "!TaskBoardTree parentId parentIndex"),
     r"TaskBoardTree", ["parentIndex", "not a field"], True),
    ("tree-order-string", store_conf("TaskBoardField parentId int column=parent_id references=tasks",
                                     "TaskBoardField parentIndex string column=name",
                                     "!TaskBoardTree parentId parentIndex"),
     r"TaskBoardTree", ["parentIndex", "int or number", "string"], True),
    ("tree-order-is-parent", store_conf("TaskBoardField parentId int column=parent_id references=tasks",
                                        "!TaskBoardTree parentId parentId"),
     r"TaskBoardTree", ["parentId", "both"], True),
    ("tree-twice", store_conf("TaskBoardField parentId int column=parent_id references=tasks",
                              "TaskBoardTree parentId", "!TaskBoardTree parentId"),
     r"TaskBoardTree", ["already"], True),
    ("tree-three-words", store_conf("TaskBoardField parentId int column=parent_id references=tasks",
                                    "!TaskBoardTree parentId weight name"),
     r"TaskBoardTree", [], True),
    ("tree-outside-store", store_conf("TaskBoardField name string",
                                      loc_extra="!   TaskBoardTree parentId\n"),
     r"TaskBoardTree", ["<TaskBoardStore>"], True),
    ("unknown-handler", GOOD + """\
<Location /api/other>
!   SetHandler taskboard-save
</Location>
""", r"SetHandler", ["taskboard-save"], True),
]


def render(text: str):
    """Returns (test.conf text, line numbers of the offending lines)."""
    lines, bad = [], []
    for n, ln in enumerate(text.splitlines(), start=1):
        if ln.startswith("!"):
            bad.append(n)
            ln = " " + ln[1:]
        lines.append(ln)
    return "\n".join(lines) + "\n", bad


def names_line(out: str, path: str, lines) -> bool:
    f = re.escape(path)
    for n in lines:
        if re.search(rf"(line {n} of {f}\b|{f}:{n}\b|{f},? line {n}\b)", out):
            return True
    return False


class TestConfig:

    @classmethod
    def prepare_class(cls, env):
        # a ServerRoot of its own, never started: only `apache2 -t` runs on it
        cls.cfg = env.new_httpd("cfgtest")

    def test_tb_100_01(self):
        # the reference config the cases are made of passes
        self.cfg.install(GOOD)
        rc, out = self.cfg.config_test()
        assert rc == 0, out
        assert "Syntax OK" in out

    def test_tb_100_02(self):
        # the board the load tests serve (every column and type of the schema) passes
        self.cfg.install(boards.board_conf())
        rc, out = self.cfg.config_test()
        assert rc == 0, out

    def test_tb_100_03(self):
        # the shipped sample configuration passes, with its DBD lines taken from the base config
        self.cfg.install(tbtest.sample_test_conf())
        rc, out = self.cfg.config_test()
        assert rc == 0, out

    def test_tb_100_05(self):
        # the shipped many-boards configuration passes
        mods = "".join(f'LoadModule {m}_module "{tbtest.MODULES_DIR}/mod_{m}.so"\n'
                       for m in ("auth_basic", "authn_core", "authn_file", "authz_user"))
        with open(f"{tbtest.REPO}/conf/taskboard-boards.conf") as f:
            self.cfg.install(mods + f.read())
        rc, out = self.cfg.config_test()
        assert rc == 0, out

    @pytest.mark.parametrize("name", ["schedulerpro.conf", "gantt.conf", "scheduler.conf"])
    def test_tb_100_12(self, name):
        # the shipped samples of the other Bryntum products pass, each on its own and all of
        # them beside the task board sample (one server serves them all, as the demo does)
        path = f"{tbtest.REPO}/conf/{name}"
        self.cfg.install(tbtest.sample_test_conf(path))
        rc, out = self.cfg.config_test()
        assert rc == 0, out
        self.cfg.install(tbtest.sample_test_conf() + tbtest.sample_test_conf(path))
        rc, out = self.cfg.config_test()
        assert rc == 0, out

    def test_tb_100_06(self):
        # origins as administrators write them: several per line and per context, upper case,
        # default ports, IPv6, in a location and a virtual host
        self.cfg.install(GOOD + "<Location /api>\n"
                         "    TaskBoardAllowOrigin https://Board.Example.com:443 "
                         "http://localhost:5173\n"
                         "    TaskBoardAllowOrigin http://[::1]:8080 http://127.0.0.1\n"
                         "</Location>\n"
                         "<VirtualHost 127.0.0.1:9>\n"
                         "    TaskBoardAllowOrigin https://other.example\n"
                         "</VirtualHost>\n")
        rc, out = self.cfg.config_test()
        assert rc == 0, out

    def test_tb_100_07(self):
        # the project in each of its keys: the table's only row, keycolumn=value, and under
        # TaskBoardScope the scope's column or a key column of its own
        for head, extra in (("<TaskBoardProject project>", ""),
                            ("<TaskBoardProject project id=2>", ""),
                            ("<TaskBoardProject project>", "    TaskBoardScope board_id env=B\n"),
                            ("<TaskBoardProject boards id>",
                             "    TaskBoardScope board_id env=B\n")):
            text = project_conf(f"    {head}", "TaskBoardField calendar string maxlength=20",
                                "TaskBoardField startDate date column=start_date required",
                                "TaskBoardField updatedAt datetime stamp=updated-at",
                                loc_extra=extra)
            if extra:
                text = text.replace("    TaskBoardRevision options value name=revision\n",
                                    "    TaskBoardRevision boards revision id\n")
            self.cfg.install(text)
            rc, out = self.cfg.config_test()
            assert rc == 0, f"{head} {extra}: {out}\n{text}"

    def test_tb_100_04(self):
        # two boards in one server, the same store ids in each
        self.cfg.install(boards.board_conf("/a") + boards.board_conf("/b"))
        rc, out = self.cfg.config_test()
        assert rc == 0, out

    def test_tb_100_07(self):
        # TaskBoardTree may come before the fields it names, and takes an order field or none
        self.cfg.install(store_conf("TaskBoardTree parentId weight",
                                    "TaskBoardField parentId int column=parent_id references=tasks",
                                    "TaskBoardField weight number"))
        rc, out = self.cfg.config_test()
        assert rc == 0, out
        self.cfg.install(store_conf("TaskBoardField parentId int column=parent_id references=tasks",
                                    "TaskBoardTree parentId"))
        rc, out = self.cfg.config_test()
        assert rc == 0, out

    @pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
    def test_tb_100_10(self, case):
        name, text, directive, tokens, dbd = case
        conf, bad_lines = render(text)
        assert bad_lines, f"case {name} marks no offending line"
        self.cfg.install(conf, dbd=dbd)
        rc, out = self.cfg.config_test()
        where = f"\n--- test.conf ---\n{conf}--- apache2 -t (exit {rc}) ---\n{out}"
        refused = rc != 0 and "Syntax OK" not in out
        assert refused, f"{name}: apache2 -t accepted the config{where}"
        named = re.search(directive, out, re.IGNORECASE) is not None
        assert named, f"{name}: the error does not name the directive /{directive}/{where}"
        missing = [t for t in tokens if t.lower() not in out.lower()]
        assert not missing, f"{name}: the error does not name {missing}{where}"
        located = names_line(out, self.cfg.test_conf_path, bad_lines)
        assert located, (
            f"{name}: the error does not name {self.cfg.test_conf_path} line "
            f"{' or '.join(map(str, bad_lines))}{where}")

    def test_tb_100_11(self):
        # event streams need a threaded MPM: under prefork httpd refuses to start, naming the
        # SetHandler line; the same configuration without the events location starts
        events = "<Location /api/events>\n!   SetHandler taskboard-events\n</Location>\n"
        journal = GOOD.replace("    TaskBoardRevision options value name=revision\n",
                               "    TaskBoardRevision options value name=revision\n"
                               "    TaskBoardJournal taskboard_journal\n")
        for text, ok in ((journal + events, False), (journal, True)):
            conf, bad_lines = render(text)
            self.cfg.install(conf)
            with open(self.cfg.conf_path) as f:
                base = f.read()
            prefork = "\n".join(
                ln for ln in base.replace("mpm_event_module", "mpm_prefork_module")
                                 .replace("mod_mpm_event.so", "mod_mpm_prefork.so").splitlines()
                if not ln.startswith(("ThreadsPerChild", "MinSpareThreads", "MaxSpareThreads")))
            with open(self.cfg.conf_path, "w") as f:
                f.write(prefork + "\n")
            rc, out = self.cfg.config_test()
            if ok:
                assert rc == 0, out
                continue
            assert rc != 0 and "TB00009" in out and "threaded MPM" in out, out
            assert names_line(out, self.cfg.test_conf_path, bad_lines), out
