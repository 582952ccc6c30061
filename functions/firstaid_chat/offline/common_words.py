"""Everyday English words that must never be spell-corrected into first-aid words.

The spelling correctors fix typos by looking for a first-aid word one or two
edits away. Many ordinary words are that close to one: "bread" to "break",
"cooking" to "choking", "draining" to "drowning", "concussion" to
"convulsion". Without this list a question about baking bread could be
answered with broken bones, or flagged as an emergency.

How the list was made: every word in a frequency list of English (the 40,000
most common words of the wordfreq project's data, CC BY-SA 4.0, by Robyn
Speer and contributors; this derived list is shared under the same licence)
that a corrector would change, kept when the word is common (roughly: used
at least once per million words) and is not just another form of the word
it would be corrected to ("attacks" may still become "attack").
When you add keywords or detection patterns, check new near-misses the same
way; tests/test_offline_retrieval.py pins the most important ones.
"""

from __future__ import annotations

COMMON_WORDS: frozenset[str] = frozenset(
    (
        "accidental", "adhere", "adhered", "adhering", "adler", "alcoholic", "alcoholics", "alkaline",
        "allergies", "animate", "animated", "anxiously", "attach", "attached", "attaches", "attaching",
        "batter", "battered", "batters", "beater", "blank", "blanks", "blaster", "bleak", "bleep", "blend",
        "blended", "blending", "blends", "blocked", "blond", "blonde", "blondes", "bloody", "bloom", "blooming",
        "blooms", "breach", "breached", "breaches", "bread", "breadth", "breather", "breathless", "brett",
        "broth", "brown", "browne", "browning", "browns", "buried", "burner", "burton", "burying", "cabal",
        "candies", "candy", "carson", "carton", "catchy", "chaired", "charged", "charmed", "chartered", "cheat",
        "cheated", "cheating", "cheats", "check", "checked", "checking", "checks", "chemically", "chess",
        "chick", "chicks", "chore", "chores", "chose", "chuck", "cleanse", "cleanser", "cleansing", "clear",
        "cleared", "clearer", "clearing", "clears", "cleaver", "clinic", "clinics", "cloning", "coalition",
        "collusion", "compassion", "compressor", "compulsion", "concession", "concessions", "conclusion",
        "conclusions", "concussion", "confessed", "confession", "confessions", "confusion", "consciously",
        "controlled", "controlling", "conversion", "conversions", "corrosion", "couch", "crank", "crashing",
        "crock", "crunching", "crush", "crust", "cuttings", "delicious", "denial", "dentistry", "depth",
        "depths", "deterrent", "difficult", "drawn", "drool", "drooling", "dropping", "electrically",
        "electrician", "electrolyte", "electronic", "electronics", "emerald", "emergence", "exhaustive",
        "ferrer", "fewer", "finder", "finer", "fittings", "flood", "flooded", "flooding", "floods", "flour",
        "freaky", "freed", "freeing", "frosty", "gaping", "gloss", "grain", "grains", "grange", "grant",
        "granted", "granting", "grants", "grappling", "grind", "grinding", "groan", "grown", "harding", "healy",
        "hearst", "heartbreak", "heartbreaking", "heartfelt", "hearth", "hearty", "herein", "heroic", "heron",
        "holdings", "horner", "impala", "incur", "incurred", "infect", "infected", "inflation", "inhale",
        "inhaled", "inject", "injected", "injecting", "insert", "inserted", "inserting", "inserts", "inspect",
        "inspected", "inspecting", "insulation", "insure", "insured", "jumbo", "killings", "knack", "knicks",
        "lander", "landry", "leather", "lighten", "lightening", "lighting", "loosing", "loving", "magnate",
        "magnetism", "magneto", "mamma", "medal", "medals", "mental", "miner", "miners", "nearby", "neatly",
        "needy", "opposition", "outset", "overcoming", "overdue", "overhead", "overheard", "overreacting",
        "pacers", "packed", "packer", "packers", "paint", "paints", "pairs", "paralysis", "passer", "pasted",
        "paused", "payer", "payers", "planet", "planets", "plank", "planks", "planter", "planters", "platt",
        "platter", "poker", "portion", "portions", "positional", "postpone", "postponed", "potion", "powder",
        "powdered", "powders", "pressurized", "prick", "prickly", "pricks", "produce", "produced", "produces",
        "producing", "productive", "properties", "property", "purse", "rabid", "rarest", "reach", "reached",
        "reaches", "reaching", "redacted", "reduction", "reductions", "refuse", "refused", "refuses",
        "refusing", "rejection", "remote", "removable", "resounding", "respondent", "responders", "response",
        "responses", "responsible", "resume", "resumed", "resumes", "resuming", "rider", "riders", "rivera",
        "scala", "scaled", "scaling", "seriously", "server", "servers", "seven", "sevens", "severn", "sewer",
        "sewers", "shack", "shady", "shark", "sharks", "sharp", "sharpe", "shirt", "shirts", "shocker", "shook",
        "shoot", "shooting", "shoots", "shorty", "shout", "shouted", "shouting", "shouts", "showering",
        "silence", "silenced", "silencing", "slang", "slider", "smelly", "smoker", "smokey", "smoky", "spacex",
        "spain", "spear", "spears", "species", "spelt", "spicer", "spill", "spilled", "spilling", "spills",
        "spindle", "spiral", "split", "splits", "splitting", "spock", "sport", "sporting", "sports", "sprang",
        "sprint", "sprinter", "sprinting", "sprints", "stack", "stacked", "stacking", "stacks", "stain",
        "stained", "staining", "stains", "stall", "stalled", "stalling", "stalls", "staple", "staples",
        "starling", "stead", "steak", "steaks", "steal", "stealing", "steals", "steamy", "sticky", "stingy",
        "stink", "stinking", "stinks", "stint", "stock", "stocked", "stocking", "stocks", "stoke", "straighten",
        "straightened", "strait", "straits", "strand", "stranded", "strands", "strangle", "strangled", "stream",
        "streamed", "streaming", "streams", "strike", "strikes", "striking", "stringer", "strings", "strong",
        "strung", "subsided", "sugary", "swear", "swearing", "swears", "sweep", "sweeping", "sweeps", "sweetie",
        "swept", "swoop", "sworn", "tenth", "thirst", "thirties", "thirty", "thorough", "thorpe", "though",
        "threat", "threats", "throne", "thrones", "tonga", "topic", "topics", "toxic", "unconsciously",
        "uncontrollable", "underrated", "undertaker", "unwilling", "wading", "wafer", "wager", "waging",
        "waiter", "waiters", "walking", "walter", "walters", "waning", "watery", "waving", "waxing",
        "wealthier", "weaver", "weavers", "weigh", "weighed", "weighing", "weighs", "wheel", "wheeled",
        "wheeling", "wheels", "woody", "wording", "workin", "workings",
    )
)
