"""What runs inside a deployed DAG's task processes: provider operators made retry-safe.

The generated DAGs name these classes by their dotted path (the compiler never imports them, so
compiling needs no provider).  Each subclasses the provider operator it replaces and changes only
what a retry does: a retried try adopts the work an earlier try of the same DAG run started instead
of starting it twice, and a teardown finds what it tears down by its tags, not only by XCom.
Triggers stay the provider's own: the triggerer imports only them.
"""
