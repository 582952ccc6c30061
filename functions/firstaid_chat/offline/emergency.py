"""Deterministic detection of messages that signal a threat to life.

When this fires, the reply leads with "call the emergency number now", before
any topic or model output. It is plain code rather than a model so that it
works offline, gives the same answer every time, and can be read and tested.

Recall matters more than precision here: telling someone to call for help who
didn't need to is a small cost; missing a cardiac arrest is not. Still, the
obvious false alarms are avoided: questions asked for a course or out of
curiosity, idioms ("my heart breaks for you"), minor injuries, negations
("I'm not choking anymore"), nosebleeds.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .subject import about_an_animal_only
from .text import SpellingCorrector, words

# Up to three filler words between the parts of a pattern: "chest is really tight".
_GAP = r"(?:\w+ ){0,3}"
_SUICIDE = "suicide or self-harm"
# What a whole packet of something must be for it to be an overdose, not a snack.
_DRUG = (
    r"(?:pill|paracetamol|ibuprofen|aspirin|tylenol|advil|acetaminophen|codeine|tramadol|"
    r"xanax|valium|diazepam|sleeping|antidepressants?|insulin|painkillers?)"
)
_ONESELF = "oneself"  # what text.words makes of "myself", "himself", "themselves"...


@dataclass(frozen=True)
class _Spec:
    """One kind of life threat: what it looks like, and what makes a match innocent."""

    name: str
    patterns: tuple[str, ...]
    unless: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Signal:
    """A `_Spec` compiled into regular expressions."""

    name: str
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None


@functools.cache
def _signals() -> tuple[_Signal, ...]:
    """Compile the patterns on first use rather than at import, to keep cold starts cheap."""
    return tuple(
        _Signal(
            name=spec.name,
            pattern=re.compile("|".join(rf"\b(?:{p})\b" for p in spec.patterns)),
            unless=re.compile("|".join(rf"\b(?:{p})\b" for p in spec.unless)) if spec.unless else None,
        )
        for spec in _SPECS
    )


_SPECS: tuple[_Spec, ...] = (
    _Spec(
        "not breathing",
        (
            rf"not {_GAP}breath(?:e|es|ing)?",
            r"barely breath(?:e|ing)",
            r"gasping",
            r"not (?:pulse|heartbeat|heart beat)",
            r"heart (?:has )?not",
            r"cardiac arrest",
            r"(?:go|going|turn\w*) (?:grey|gray|blue)",
            r"(?:lips|face) {_GAP}blue",
            r"blue lips",
            r"floppy",
            r"lifeless",
            r"(?:doing|giving|started|start|starting|performing|need to do) cpr",
            r"chest compressions",
        ),
        unless=(r"not breath(?:ing)? problems?", r"through (?:my|his|her|the) nose"),
    ),
    _Spec(
        "can't breathe",
        (
            rf"(?:cant|struggling|struggle|hard|difficult|difficulty|trouble|fighting) (?:to )?{_GAP}"
            r"(?:breath(?:e|es|ing)?|catch (?:his |her |my |their )?breath)",
            r"throat (?:is )?(?:closing|closed|tight)",
        ),
        unless=(r"through (?:my|his|her|the) nose", r"blocked nose", r"stuffy"),
    ),
    _Spec(
        "choking",
        (r"chok(?:e|es|ed|ing)",),
        unless=(
            r"not (?:\w+ )?chok\w*",
            r"chok\w* hazards?",
            r"choked up",
            r"anymore",
        ),
    ),
    _Spec(
        "unconscious",
        (
            r"unconscious",
            r"unresponsive",
            r"not (?:responding|responsive|waking|wake)",
            r"cant (?:wake|rouse)",
            r"out cold",
            r"collaps(?:e|ed|es|ing)",
            r"passed out",
            r"blacked out",
            r"faint(?:ed|s)",
            r"knocked (?:out|unconscious)",
        ),
        unless=(
            r"came (?:round|around|to)",
            r"come (?:round|around|to)",
            r"woke up",
            r"awake now",
            r"(?:fine|ok|okay|better) now",
            r"going to",
            r"gonna",
            r"about to",
            r"feel like",
            r"nearly",
            r"almost",
            r"tooth",
            r"teeth",
            r"for a (?:second|few seconds|moment)",
            r"yesterday",
            r"earlier",
            r"last (?:night|week|month|year)",
            r"ago",
        ),
    ),
    _Spec(
        "not moving",
        (r"not moving",),
        unless=(
            r"fingers?",
            r"wrists?",
            r"arms?",
            r"legs?",
            r"toes?",
            r"hands?",
            r"foot",
            r"feet",
            r"knees?",
            r"ankles?",
            r"shoulders?",
            r"neck",
            r"jaw",
            r"eyes?",
            r"car",
            r"traffic",
            r"bowels?",
            r"queue",
            r"house",
        ),
    ),
    _Spec(
        "severe bleeding",
        (
            rf"(?:bleed\w*|blood) {_GAP}(?:heavily|heavy|badly|bad|a lot|lots|loads|everywhere|"
            r"not stop\w*|spurting|pouring|gushing|pumping|all over)",
            r"(?:lots|loads|so much|a lot|pool) of blood",
            r"blood everywhere",
            rf"(?:losing|lost) {_GAP}blood",
            r"not stop\w* bleed\w*",
            r"spurting",
            r"gushing",
            r"(?:pouring|pumping) blood",
            r"stabbed",
            r"stab wound",
            r"(?:massive|huge|big|deep|large|gaping) (?:\w+ )?(?:cut|gash|wound|laceration)",
            r"gunshot",
            r"(?:been|got|was|is|hes|shes|were) shot",
            r"shot (?:in|by|with)",
            r"severed",
            r"amputated",
            r"impaled",
            r"artery",
            r"knifed",
            rf"(?:knife|blade|glass) {_GAP}(?:in|into|through) (?:his |her |my |their )?"
            r"(?:stomach|chest|back|neck|leg|arm|side|belly)",
            r"cut off (?:his |her |my |their )?(?:finger|hand|arm|leg|toe|foot)",
            rf"(?:stuck|embedded) in {_GAP}(?:leg|arm|chest|stomach|back|head|neck|body)",
        ),
        unless=(r"nose", r"period", r"gums?"),
    ),
    _Spec(
        "chest pain",
        (
            rf"chest {_GAP}(?:pain|pains|hurt\w*|tight\w*|pressure|heavy|crushing|squeez\w*|agony)",
            rf"(?:pain|pains|tightness|pressure|crushing|tight|heavy|squeezing) {_GAP}chest",
            rf"(?:clutch|hold|grabb|gripp)\w* {_GAP}chest",
            r"heart attack",
            r"hart attack",
            r"cardiac",
        ),
        unless=(r"asthma\w*", r"wheez\w*", r"inhaler"),
    ),
    _Spec(
        "stroke",
        (
            r"stroke",
            r"heatstroke",
            r"(?:having|had|has|a) stoke",
            r"mini stroke",
            rf"face {_GAP}(?:droop\w*|drop\w*|lopsided|fallen)",
            rf"droop\w* {_GAP}face",
            r"slurr\w*",
            r"(?:cant|not) (?:lift|raise) (?:\w+ ){0,2}arms?",
            rf"(?:weak|weakness|numb|numbness) {_GAP}(?:one side|left side|right side|face)",
            rf"one side {_GAP}(?:weak|numb|droop\w*|paralys\w*)",
            rf"words {_GAP}(?:wrong|jumbled|muddled|gibberish)",
            r"talking gibberish",
            r"(?:cant|not) (?:speak|talk) properly",
        ),
        unless=(r"stroke (?:of|the|my|his|her)", r"(?:breast|back) ?stroke", r"swimming stroke"),
    ),
    _Spec(
        "anaphylaxis",
        (
            r"anaphyla\w*",
            r"epipen",
            r"autoinjector",
            r"adrenaline (?:pen|injector|shot)",
            rf"(?:throat|tongue|lips?|mouth) {_GAP}(?:swell\w*|closing|puff\w*)",
            rf"swell\w* {_GAP}(?:throat|tongue|lips?|mouth)",
            r"severe allergic reaction",
        ),
    ),
    _Spec(
        "overdose",
        (
            r"overdos\w*",
            r"od",
            r"too many pill",
            r"take too (?:many|much)",
            rf"(?:whole|entire) (?:packet|bottle|box|pack|strip|tub) {_GAP}{_DRUG}",
            rf"(?:eat|swallow\w*|got into) {_GAP}pill",
            r"naloxone",
            r"narcan",
            r"(?:take|swallow\w*|eat) (?:loads|lots|a lot|a load|a bunch|a handful|handful|all|"
            rf"the whole|every) (?:of )?{_GAP}pill",
        ),
    ),
    _Spec(
        "poisoning",
        (
            r"poison\w*",
            r"carbon monoxide",
            r"co alarm",
            rf"(?:drink|swallow\w*|eat|got into|lick\w*|chew\w*) {_GAP}(?:bleach|detergent|pods?|"
            r"liquitabs?|dishwasher|cleaner|cleaning|antifreeze|weed ?killer|pesticide|chemicals?|"
            r"battery|batteries|magnets?|berries|mushrooms?|vape|white spirit|petrol|paraffin|"
            r"lamp oil|nail polish remover|rat poison)",
            rf"fumes {_GAP}(?:dizzy|headache|collapsed|unconscious|sick|drowsy)",
        ),
        unless=(r"food poisoning", r"poison (?:ivy|oak)"),
    ),
    _Spec(
        "drowning",
        (
            r"drown\w*",
            rf"(?:pulled|dragged|fished|rescued|got) {_GAP}(?:out of|from) (?:the )?"
            r"(?:water|pool|river|sea|lake|pond|bath|canal)",
            r"(?:under|underwater|face down in) (?:the )?(?:water|pool|bath)",
            r"underwater",
            r"(?:floating|found) (?:face down )?in (?:the )?(?:water|pool|bath|river|sea|lake|pond)",
        ),
    ),
    _Spec(
        "severe burn",
        (
            r"on fire",
            r"caught fire",
            r"engulfed",
            r"smoke inhalation",
            rf"(?:burn\w*|scald\w*) {_GAP}(?:badly|severely|severe|huge|whole body|all over|"
            r"face|charred|black|leathery|third degree|3rd degree|full thickness)",
            rf"(?:badly|severely|severe|serious|seriously|huge|third degree|3rd degree) {_GAP}"
            r"(?:burn\w*|scald\w*)",
            rf"(?:breathed in|inhaled) {_GAP}smoke",
        ),
    ),
    _Spec(
        "electric shock",
        (
            r"electrocut\w*",
            r"electric(?:al)? shock",
            r"power lines?",
            r"pylon",
            r"(?:live|exposed|bare) wires?",
            r"high voltage",
            r"shocked by",
            r"zapped",
            r"(?:struck|hit) by lightning",
            r"lightning (?:strike|struck|hit)",
            r"shock from (?:a |the )?(?:wire|socket|plug|cable|outlet|fence|mains)",
            rf"(?:fork|knife|finger|fingers|metal|key|scissors) {_GAP}(?:socket|plug|outlet)",
        ),
        unless=(r"(?:static|small|little|mild|tiny|minor) (?:electric(?:al)? )?shock",),
    ),
    _Spec(
        _SUICIDE,
        (
            rf"(?:kill|killing|harm|harming) {_ONESELF}",
            rf"cutting {_ONESELF}",
            r"suicid\w*",
            r"selfharm\w*",
            r"end (?:my|his|her|their|your) (?:own )?life",
            r"(?:end|ending) it all",
            r"take (?:my|his|her|their|your) own life",
            r"wants? to die",
            r"not want to (?:live|be alive|be here|wake up)",
            r"better off dead",
            r"no reason to live",
        ),
        unless=(r"die (?:of|from) (?:embarrassment|laughter|boredom|shame)",),
    ),
    _Spec(
        "seizure",
        (
            r"seizure\w*",
            r"convulsion",
            r"(?:having|had|has) (?:a )?fits?",
            r"(?:is|hes|shes|been|keeps|started|still) fitting",
            r"epileptic fit",
        ),
        unless=(
            r"yesterday",
            r"earlier",
            r"last (?:night|week|month|year)",
            r"ago",
            r"what to do (?:when|if)",
            r"how (?:to|do)",
            r"recovered",
            r"(?:fine|ok|okay) now",
        ),
    ),
    _Spec(
        "serious injury",
        (
            rf"(?:cant|not) (?:feel|move) {_GAP}(?:legs?|arms?|feet|body|anything)",
            r"paraly[sz]\w*",
            rf"(?:break|snap\w*) {_GAP}(?:neck|back|spine)",
            r"spinal",
            r"(?:car|motorbike|motorcycle|bike|road|traffic|bus|train) (?:crash|accident|collision)",
            r"(?:hit|knocked (?:down|over)|run over) by (?:a )?(?:car|bus|truck|van|lorry|train)",
            rf"fall (?:off|from) {_GAP}(?:roof|ladder|balcony|scaffold\w*|cliff|window|height|horse)",
            rf"(?:dive|dived|diving) {_GAP}(?:shallow|neck|head)",
            r"(?:in|into|go into) shock",
            r"clammy skin",
            rf"(?:pale|grey|gray|cold|white|sweaty) {_GAP}clammy",
            rf"clammy {_GAP}(?:pale|grey|gray|cold|white|confused|drowsy)",
        ),
        unless=(r"electric(?:al)? shock",),
    ),
    _Spec(
        "other emergency",
        (
            r"hypotherm\w*",
            r"not sweat\w*",
            rf"(?:hot|boiling|burning up|overheated) {_GAP}(?:confused|delirious|collapsed)",
            rf"(?:shivering|freezing|cold) {_GAP}(?:confused|drowsy|slurr\w*)",
            rf"(?:inhaler|puffer|pump|reliever) {_GAP}not (?:working|helping|work)",
            r"snakebite",
            rf"snake {_GAP}bite",
            rf"bite {_GAP}snake",
            r"rattlesnake|adder|viper|cobra|mamba",
        ),
    ),
)

# Questions asked to learn rather than to act: "how do I learn CPR for a course".
_STUDYING = re.compile(
    r"\b(?:learn\w*|course|class|classes|training|exam|quiz|revision|revising|homework|"
    r"essay|assignment|certificat\w*|studying|hypothetical\w*|in case|prevent\w*|"
    r"what if|just wondering|curious)\b"
)
_URGENT = re.compile(r"\b(?:right now|hurry|asap|urgent|emergency|help me|please help|omg)\b")

# Words the patterns above look for, so that a misspelling ("unconsious",
# "breating", "siezure") can be corrected before matching.
VOCABULARY: frozenset[str] = frozenset(
    {
        "breathe",
        "breathing",
        "breath",
        "breathes",
        "gasping",
        "pulse",
        "heartbeat",
        "cardiac",
        "arrest",
        "floppy",
        "lifeless",
        "compressions",
        "struggling",
        "difficulty",
        "trouble",
        "throat",
        "closing",
        "choke",
        "choked",
        "choking",
        "chokes",
        "unconscious",
        "unresponsive",
        "responding",
        "responsive",
        "waking",
        "collapsed",
        "collapse",
        "collapsing",
        "passed",
        "blacked",
        "fainted",
        "knocked",
        "bleeding",
        "blood",
        "heavily",
        "everywhere",
        "spurting",
        "pouring",
        "gushing",
        "pumping",
        "losing",
        "stabbed",
        "gunshot",
        "severed",
        "amputated",
        "impaled",
        "artery",
        "embedded",
        "chest",
        "pains",
        "tightness",
        "pressure",
        "crushing",
        "squeezing",
        "clutching",
        "holding",
        "grabbing",
        "gripping",
        "attack",
        "stroke",
        "heatstroke",
        "drooping",
        "droopy",
        "lopsided",
        "slurred",
        "slurring",
        "weakness",
        "numbness",
        "jumbled",
        "muddled",
        "gibberish",
        "properly",
        "anaphylaxis",
        "anaphylactic",
        "epipen",
        "autoinjector",
        "adrenaline",
        "tongue",
        "swelling",
        "swell",
        "allergic",
        "reaction",
        "severe",
        "overdose",
        "overdosed",
        "overdosing",
        "naloxone",
        "narcan",
        "packet",
        "bottle",
        "poison",
        "poisoned",
        "poisoning",
        "poisonous",
        "carbon",
        "monoxide",
        "bleach",
        "detergent",
        "dishwasher",
        "antifreeze",
        "pesticide",
        "chemical",
        "chemicals",
        "battery",
        "batteries",
        "magnets",
        "berries",
        "mushrooms",
        "swallowed",
        "drowning",
        "drowned",
        "underwater",
        "burned",
        "burning",
        "scalded",
        "scalding",
        "badly",
        "severely",
        "charred",
        "leathery",
        "engulfed",
        "smoke",
        "inhalation",
        "electrocuted",
        "electric",
        "electrical",
        "lightning",
        "voltage",
        "shocked",
        "suicide",
        "suicidal",
        "killing",
        "harming",
        "cutting",
        "seizure",
        "seizures",
        "convulsion",
        "fitting",
        "epileptic",
        "paralysed",
        "paralyzed",
        "spinal",
        "accident",
        "crash",
        "collision",
        "ladder",
        "balcony",
        "shallow",
        "clammy",
        "hypothermia",
        "hypothermic",
        "shivering",
        "freezing",
        "confused",
        "delirious",
        "sweating",
        "inhaler",
        "working",
        "helping",
        "snakebite",
        "rattlesnake",
    }
)
_CORRECTOR = SpellingCorrector(VOCABULARY)


def signals_life_threat(message: str) -> bool:
    """Return True when `message` suggests someone's life may be in danger right now."""
    return bool(life_threat_signals(message))


def life_threat_signals(message: str) -> list[str]:
    """Name the kinds of life threat `message` signals (empty when none), for logs and tests."""
    typed = words(message)
    if about_an_animal_only(typed):
        return []
    # Match both what was typed and its spell-corrected form, so that a pattern
    # for a known misspelling ("having a stoke") still sees the original.
    texts = (" ".join(typed), " ".join(_CORRECTOR.correct(word) for word in typed))
    found = [
        signal.name
        for signal in _signals()
        if any(signal.pattern.search(text) for text in texts)
        and not (signal.unless and any(signal.unless.search(text) for text in texts))
    ]
    if found and not any(_URGENT.search(text) for text in texts) and any(_STUDYING.search(text) for text in texts):
        # A question for a course is not an emergency; talk of suicide always is,
        # even next to the word "exam".
        found = [name for name in found if name == _SUICIDE]
    return found


def emergency_preamble(number: str) -> str:
    """The one-line lead shown before any reply to a message that signals a life threat."""
    return (
        f"**Call {number} now** — this may be life-threatening. "
        "Put the phone on speaker and follow the call handler's instructions."
    )
