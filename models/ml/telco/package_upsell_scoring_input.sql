-- Package up-sell scoring input: the score month's wide table.
{{ scoring_frame() }}
