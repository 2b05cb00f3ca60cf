"""`scorehouse score`: the picklable scoring task every engine runs (`task`), the
single-writer lock of a (model, month) slice (`locks`), and the orchestration of one
model's month — verification, pieces, resume, swap (`score`)."""
