"""SQL kept in versioned files (the stored procedures): the migrations load them from here and
the tests compare what the database runs with them, so each exists once."""
import re
from pathlib import Path

HERE = Path(__file__).parent
CLAIM_PROCEDURE = "portal_claim_next"


def read(name):
    """The file app/sql/<name>.sql without its leading comment lines: one CREATE statement."""
    text = (HERE / f"{name}.sql").read_text(encoding="utf-8")
    return re.sub(r"\A(?:--[^\n]*\n|\s*\n)*", "", text).rstrip() + "\n"


def body(name):
    """The routine's body as the server stores it (information_schema.ROUTINES.ROUTINE_DEFINITION):
    from its first BEGIN on a line of its own to the final END."""
    statement = read(name)
    return statement[re.search(r"^BEGIN\b", statement, re.M).start():].rstrip()


def replace_procedure(execute, name):
    """Drop and create the procedure `name` from its file; `execute` runs one statement (op.execute
    in a migration). DROP + CREATE: MySQL has no CREATE OR REPLACE PROCEDURE."""
    execute(f"DROP PROCEDURE IF EXISTS {name}")
    execute(read(name))
