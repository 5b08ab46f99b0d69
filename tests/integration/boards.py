"""Config texts (test.conf parts) for the boards the tests serve.

FULL maps every column of sql/schema.sql with its type, so that each field type is exercised;
the expected rows are computed from the same text by tbtest.parse_board().
"""

FULL_STORES = """\
    TaskBoardRevision {p}options value name=revision

    <TaskBoardStore tasks>
        TaskBoardTable {p}tasks
        TaskBoardId id auto
        TaskBoardOrder weight id
        TaskBoardField name        string   required maxlength=255 "default=New task"
        TaskBoardField description text
        TaskBoardField status      string   values=todo,doing,review,done default=todo
        TaskBoardField prio        string
        TaskBoardField weight      int
        TaskBoardField deadline    date
        TaskBoardField startDate   datetime column=start_date
        TaskBoardField eventColor  string   column=event_color
        TaskBoardField readOnly    boolean  column=read_only
        TaskBoardField parentId    int      column=parent_id references=tasks
        TaskBoardField meta        json
        TaskBoardField createdAt   datetime column=created_at readonly
    </TaskBoardStore>

    <TaskBoardStore resources>
        TaskBoardTable {p}resources
        TaskBoardOrder name DESC
        TaskBoardField name   string required maxlength=100
        TaskBoardField email  string
        TaskBoardField image  string
        TaskBoardField role   string
        TaskBoardField active boolean
    </TaskBoardStore>

    <TaskBoardStore assignments>
        TaskBoardTable {p}assignments
        TaskBoardField eventId    int    column=event    required references=tasks
        TaskBoardField resourceId int    column=resource required references=resources
        TaskBoardField units      number
    </TaskBoardStore>

    <TaskBoardStore columns>
        TaskBoardTable {p}columns
        TaskBoardId id string
        TaskBoardOrder weight
        TaskBoardField text      string required
        TaskBoardField color     string
        TaskBoardField collapsed boolean
        TaskBoardField weight    int
    </TaskBoardStore>

    <TaskBoardStore swimlanes>
        TaskBoardTable {p}swimlanes
        TaskBoardId id string
        TaskBoardOrder weight
        TaskBoardField text      string required
        TaskBoardField color     string
        TaskBoardField collapsed boolean
        TaskBoardField weight    int
    </TaskBoardStore>
"""


def board_conf(location: str = "/api", table_prefix: str = "", extra: str = "",
               stores: str = None) -> str:
    """A <Location> with the stores, and its load and sync handler locations beneath it."""
    body = (stores if stores is not None else FULL_STORES).format(p=table_prefix)
    return (f"<Location {location}>\n{body}{extra}</Location>\n"
            f"<Location {location}/load>\n    SetHandler taskboard-load\n</Location>\n"
            f"<Location {location}/sync>\n    SetHandler taskboard-sync\n</Location>\n")
