"""Word lists the baseline rules consult: titles, places, organisations, sources, verbs.

All entries are lower case; callers lower-case the token they look up. The lists are
deliberately plain data so a reader can see, and extend, what the rules know.
"""

from __future__ import annotations

# Words that make up a role or title ("Deputy Foreign Minister", "government spokesman").
TITLE_WORDS = frozenset(
    """
    president president-elect vice-president prime premier minister ministers secretary
    secretary-general undersecretary under-secretary general deputy foreign chancellor
    vice-chancellor spokesman spokeswoman spokesperson spokespeople senator sen. rep.
    representative congressman congresswoman congressmember governor gov. mayor ambassador
    envoy commissioner chief head leader chair chairman chairwoman chairperson director
    director-general king queen prince princess crown pope ceo cfo coo official officer adviser
    advisor aide counsellor counselor state defence defense interior finance economy economic
    affairs home justice trade health energy environment security national vice acting former
    opposition senior junior fellow government ministry office armed forces force commander
    colonel col. gen. lt. maj. major captain capt. admiral judge attorney speaker lawmaker
    mp mep lord sir dame high executive board member chief-of-staff staff press
    presidential parliamentary party leader-elect emir sheikh sultan ayatollah cardinal
    bishop archbishop rabbi imam mr. mrs. ms. dr. prof. professor dean rector analyst
    researcher economist strategist negotiator coordinator co-ordinator mediator
    president's prosecutor inspector superintendent sergeant general's commissioner's
    department agency council cabinet parliament federal central regional provincial
    assistant principal permanent special first second third councillor councilor alderman
    alderwoman assemblyman assemblywoman legislator delegate secretary-of-state trustee
    """.split()
)

# Title words that alone, lower case, can end a role right before a name ("spokesman X").
HONORIFICS = frozenset("mr mr. mrs mrs. ms ms. dr dr. prof prof. sir dame lord lady".split())

# Connectors allowed inside a role or an organisation name between capitalised words.
ROLE_CONNECTORS = frozenset("of for and the de du des la le".split())

# Lower-case particles allowed inside a person's name ("Ursula von der Leyen").
NAME_PARTICLES = frozenset(
    "de del della der den di da dos das du van von la le al el bin ibn ben".split()
)

NATIONALITIES = frozenset(
    """
    afghan albanian algerian american argentine argentinian armenian australian austrian
    azerbaijani belarusian belgian bosnian brazilian british bulgarian canadian chilean
    chinese colombian croatian cuban cypriot czech danish dutch egyptian emirati english
    estonian ethiopian european filipino finnish french georgian german greek hungarian
    icelandic indian indonesian iranian iraqi irish israeli italian japanese jordanian
    kazakh kenyan korean kosovar kuwaiti latvian lebanese libyan lithuanian luxembourgish
    macedonian malaysian maltese mexican moldovan mongolian montenegrin moroccan nigerian
    norwegian pakistani palestinian peruvian polish portuguese qatari romanian russian
    saudi scottish serbian slovak slovenian somali spanish sudanese swedish swiss syrian
    taiwanese thai tunisian turkish ukrainian welsh venezuelan vietnamese yemeni
    western eastern northern southern baltic nordic arab african asian latin
    americans russians germans europeans italians ukrainians britons
    us u.s. u.s uk u.k. un u.n. eu e.u.
    """.split()
)

COUNTRIES = frozenset(
    """
    afghanistan albania algeria andorra angola argentina armenia australia austria
    azerbaijan bahrain bangladesh belarus belgium bolivia bosnia botswana brazil britain
    bulgaria cambodia cameroon canada chad chile china colombia congo croatia cuba cyprus
    czechia denmark ecuador egypt england eritrea estonia ethiopia finland france gabon
    georgia germany ghana greece guatemala haiti honduras hungary iceland india indonesia
    iran iraq ireland israel italy japan jordan kazakhstan kenya kosovo kuwait kyrgyzstan
    laos latvia lebanon libya liechtenstein lithuania luxembourg madagascar malaysia mali
    malta mexico moldova monaco mongolia montenegro morocco mozambique myanmar namibia nepal
    netherlands nicaragua niger nigeria norway oman pakistan palestine panama paraguay peru
    philippines poland portugal qatar romania russia rwanda scotland senegal serbia
    singapore slovakia slovenia somalia spain sudan sweden switzerland syria taiwan
    tajikistan tanzania thailand tunisia turkey turkiye turkmenistan uganda ukraine
    uruguay uzbekistan venezuela vietnam wales yemen zambia zimbabwe america
    """.split()
) | frozenset(
    [
        "united states",
        "united kingdom",
        "the united states",
        "the united kingdom",
        "us",
        "u.s.",
        "uk",
        "u.k.",
        "usa",
        "u.s.a.",
        "north korea",
        "south korea",
        "saudi arabia",
        "new zealand",
        "south africa",
        "czech republic",
        "the netherlands",
        "united arab emirates",
        "sri lanka",
        "north macedonia",
        "the philippines",
    ]
)

# Capitals (and seats of government) used as metonyms for the country: "Moscow said".
CAPITALS: dict[str, str] = {
    "moscow": "Russia",
    "kyiv": "Ukraine",
    "kiev": "Ukraine",
    "washington": "United States",
    "london": "United Kingdom",
    "paris": "France",
    "berlin": "Germany",
    "beijing": "China",
    "warsaw": "Poland",
    "rome": "Italy",
    "tallinn": "Estonia",
    "riga": "Latvia",
    "vilnius": "Lithuania",
    "ankara": "Turkey",
    "tehran": "Iran",
    "tokyo": "Japan",
    "new delhi": "India",
    "delhi": "India",
    "ottawa": "Canada",
    "canberra": "Australia",
    "madrid": "Spain",
    "lisbon": "Portugal",
    "athens": "Greece",
    "budapest": "Hungary",
    "prague": "Czechia",
    "vienna": "Austria",
    "stockholm": "Sweden",
    "oslo": "Norway",
    "helsinki": "Finland",
    "copenhagen": "Denmark",
    "bern": "Switzerland",
    "dublin": "Ireland",
    "jerusalem": "Israel",
    "damascus": "Syria",
    "baghdad": "Iraq",
    "cairo": "Egypt",
    "riyadh": "Saudi Arabia",
    "pyongyang": "North Korea",
    "seoul": "South Korea",
    "taipei": "Taiwan",
    "minsk": "Belarus",
    "tbilisi": "Georgia",
    "chisinau": "Moldova",
    "bucharest": "Romania",
    "sofia": "Bulgaria",
    "belgrade": "Serbia",
    "zagreb": "Croatia",
    "bratislava": "Slovakia",
    "ljubljana": "Slovenia",
    "amsterdam": "Netherlands",
    "the hague": "Netherlands",
    "brasilia": "Brazil",
    "mexico city": "Mexico",
    "buenos aires": "Argentina",
    "islamabad": "Pakistan",
    "kabul": "Afghanistan",
    "doha": "Qatar",
    "abu dhabi": "United Arab Emirates",
    "amman": "Jordan",
    "beirut": "Lebanon",
    "tripoli": "Libya",
    "nairobi": "Kenya",
    "pretoria": "South Africa",
    "canberra ": "Australia",
}

# Demonyms naming a country's government: "a German government spokeswoman" -> Germany.
DEMONYMS: dict[str, str] = {
    "american": "United States",
    "americans": "United States",
    "us": "United States",
    "u.s.": "United States",
    "british": "Britain",
    "britons": "Britain",
    "uk": "Britain",
    "u.k.": "Britain",
    "french": "France",
    "german": "Germany",
    "germans": "Germany",
    "italian": "Italy",
    "italians": "Italy",
    "spanish": "Spain",
    "polish": "Poland",
    "dutch": "Netherlands",
    "belgian": "Belgium",
    "austrian": "Austria",
    "swiss": "Switzerland",
    "swedish": "Sweden",
    "norwegian": "Norway",
    "danish": "Denmark",
    "finnish": "Finland",
    "estonian": "Estonia",
    "latvian": "Latvia",
    "lithuanian": "Lithuania",
    "czech": "Czechia",
    "slovak": "Slovakia",
    "slovenian": "Slovenia",
    "hungarian": "Hungary",
    "romanian": "Romania",
    "bulgarian": "Bulgaria",
    "greek": "Greece",
    "portuguese": "Portugal",
    "irish": "Ireland",
    "croatian": "Croatia",
    "serbian": "Serbia",
    "turkish": "Turkey",
    "russian": "Russia",
    "russians": "Russia",
    "ukrainian": "Ukraine",
    "ukrainians": "Ukraine",
    "belarusian": "Belarus",
    "georgian": "Georgia",
    "moldovan": "Moldova",
    "chinese": "China",
    "japanese": "Japan",
    "korean": "South Korea",
    "indian": "India",
    "pakistani": "Pakistan",
    "iranian": "Iran",
    "iraqi": "Iraq",
    "israeli": "Israel",
    "palestinian": "Palestine",
    "syrian": "Syria",
    "saudi": "Saudi Arabia",
    "egyptian": "Egypt",
    "canadian": "Canada",
    "mexican": "Mexico",
    "brazilian": "Brazil",
    "australian": "Australia",
    "europeans": "Europe",
}

# Head nouns that make "<country>'s X" or "the Dutch X" an institution speaking.
INSTITUTION_NOUNS = frozenset(
    """
    government ministry embassy office cabinet administration presidency delegation mission
    representative ambassador envoy spokesman spokeswoman spokesperson regulator agency
    """.split()
)

# A head word that makes a capitalised span an organisation rather than a person.
ORG_WORDS = frozenset(
    """
    nato eu un uno osce opec imf wto who g7 g20 kremlin pentagon commission ministry
    council parliament congress senate house office union agency bank fund group company
    corporation corp inc ltd plc association foundation institute institution studies
    centre center university college school committee court assembly department service
    services forces army navy air police party alliance coalition front movement network
    organisation organization federation league board authority administration government
    cabinet duma rada bundestag bundeswehr palace downing elysee quai secretariat mission
    delegation command embassy consulate bloc club forum summit conference campaign
    initiative programme program project trust society church tribunal station
    brussels whitehall downing
    """.split()
)

# Regions and blocs named like places but not countries.
REGIONS = frozenset(
    """
    europe asia africa oceania antarctica west east north south balkans baltics caucasus
    scandinavia middle-east americas
    """.split()
)

# Outlets: a span with one of these words is a news source, reported "via", never a party.
MEDIA_WORDS = frozenset(
    """
    journal times post reuters ap afp bloomberg tass ria interfax bbc cnn fox nbc cbs abc
    politico axios wire ledger chronicle courier dispatch gazette tribune herald telegraph
    guardian observer independent economist news newspaper magazine agency press
    broadcaster television tv radio daily weekly monitor examiner standard mirror express
    bulletin inquirer star sun globe mail review insider
    """.split()
)

# Head nouns of anonymous sources: "officials", "one source", "unnamed aides".
ANON_NOUNS = frozenset(
    """
    official officials source sources aide aides diplomat diplomats analyst analysts
    insider insiders person people expert experts observer observers critic critics
    backer backers planner planners officer officers figure figures staffer staffers
    member members lawmakers legislators negotiators negotiator participants participant
    attendees delegates witnesses residents everyone someone nobody colleague colleagues
    ally allies partners counterparts leaders ministers governments capitals countries
    states others some many most several few protesters demonstrators activists voters
    supporters opponents investors traders residents citizens soldiers troops commentators
    economists scholars researchers scientists campaigners
    """.split()
)

# "X's spokesperson said" -> the party is X.
SPOKES_NOUNS = frozenset(
    "spokesman spokeswoman spokesperson spokespeople office ministry government".split()
)

PRONOUNS_PERSON = frozenset(["he", "she"])
PRONOUNS_GROUP = frozenset(["they"])
PRONOUNS_OTHER = frozenset(["it", "we", "i", "you", "this", "that", "which", "who", "one"])

# Capitalised words that are not names even when they start a sentence.
STOP_CAPS = frozenset(
    """
    a an the but and or so yet nor for if as at by in on of to from with without into onto
    upon about after before during since until while when where whereas whether though
    although because however meanwhile moreover nevertheless nonetheless still then thus
    therefore also asked speaking separately earlier later now today yesterday tomorrow
    tonight last next this that these those it its he she they we i you his her their our
    my your some several many most both each every all any no not none other others such
    there here what which who whom whose why how one two three four five six seven eight
    nine ten first second third new old us mr mrs ms dr despite amid among against between
    instead under over above below more less few much very just only even indeed already
    yes ok okay well in-person online breaking update analysis opinion editorial comment
    exclusive watch read live photo video via per
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()
)

PREPOSITIONS = frozenset(
    """
    of for to with in on at from by about between against into over under than like including
    toward towards through across around within without among amid upon onto via per near
    after before during since until behind beyond despite except inside outside
    """.split()
)

# Auxiliaries and adverbs allowed between a speaker and the speech verb.
AUX_BETWEEN = frozenset(
    """
    has have had also again repeatedly previously earlier later then still once already
    publicly privately reportedly separately further firmly openly strongly did does do
    would will could not never always quickly immediately swiftly flatly sharply
    specifically explicitly initially first recently now only just even both long been
    himself herself themselves itself clearly bluntly angrily reportedly notably
    can cannot should must may might shall
    """.split()
)

DETERMINERS = frozenset(
    """
    the a an any its their his her our my your this these those that such some all every
    each no another either neither
    """.split()
)

MODALS = frozenset("will would could can shall should must may might".split())
COPULAS = frozenset("is are was were be been being remains remain remained".split())

# Verbs whose negation means the party *opposes* the object ("would not accept X").
SUPPORTIVE_VERBS = frozenset(
    """
    support back accept endorse join allow approve welcome tolerate recognise recognize
    favour favor want commit agree permit sign ratify
    """.split()
)

# Verbs whose negation means the party *supports* the object ("will not give up X").
OPPOSING_VERBS = frozenset(
    """
    oppose reject block veto ban abandon drop scrap resist rethink reconsider lift suspend
    withdraw end halt stop cancel repeal reverse overturn strike
    """.split()
)

# Verbs that just introduce a topic ("premature to talk about X" -> X).
TRANSPARENT_VERBS = frozenset("talk discuss debate speak consider address raise".split())

# Base verbs recognised in a reported clause with no auxiliary ("EU members send ...").
COMMON_VERBS = frozenset(
    """
    send deploy join play take give provide offer contribute lead monitor guarantee pay
    impose lift end stop accept allow become remain keep hold put make use help support
    back reject oppose withdraw recognise recognize negotiate sign ratify supply arm train
    fund build open close ban block veto extend expand cut raise lower defend protect
    enforce patrol police secure station pressure demand press push seek
    """.split()
)

# Gerunds that do not follow the regular rules.
GERUND_IRREGULAR: dict[str, str] = {
    "be": "being",
    "see": "seeing",
    "agree": "agreeing",
    "flee": "fleeing",
    "put": "putting",
    "get": "getting",
    "set": "setting",
    "cut": "cutting",
    "stop": "stopping",
    "plan": "planning",
    "ban": "banning",
    "run": "running",
    "let": "letting",
    "commit": "committing",
    "admit": "admitting",
    "permit": "permitting",
    "sit": "sitting",
    "win": "winning",
    "begin": "beginning",
    "shut": "shutting",
    "drop": "dropping",
    "ship": "shipping",
    "veto": "vetoing",
    "die": "dying",
    "lie": "lying",
    "tie": "tying",
}

# Words dropped from the ends of a topic ("... to the", "and").
TOPIC_EDGE_STOP = frozenset(
    """
    a an the and or but of to in on at for with by from as that which who whom whose is are
    was were be been would will could should must can may might its their his her our my
    your this these those any such some all every each no not than then so very also
    """.split()
)

# Topic words that point back to something said earlier ("welcomed the move").
ANAPHORIC_TOPICS = frozenset(
    [
        "it",
        "this",
        "that",
        "them",
        "these",
        "those",
        "which",
        "move",
        "idea",
        "plan",
        "decision",
        "proposal",
        "step",
        "remarks",
        "announcement",
        "offer",
        "change",
        "statement",
        "comments",
        "development",
        "news",
        "report",
        "reports",
        "initiative",
        "measure",
        "measures",
        "scheme",
        "policy",
        "package",
        "deal",
        "agreement",
        "arrangement",
        "result",
        "outcome",
        "vote",
        "shift",
        "anything",
        "nothing",
    ]
)
