"""The steps of a search, one function per pipeline rule (each also a `nasrl` command).

Data flow (docs/design.md): init_controller -> for each round: sample -> train every
child -> collect rewards -> update controller; then summarize -> select top -> retrain on a
grid -> report. Every step reads only its declared inputs and writes complete outputs.
"""
