"""Writes the generated part of the sample document set (deterministic: same output on every run).

Run from this folder: python3 generate.py. The output is committed; the portal never runs this script.
"""
import os
import random

rng = random.Random(1987)
OUT = "generated"

FAMILIES = {
    "kettle": ("Kettle", ["Aurora", "Brook", "Cascade", "Dew"], ["1.2 L", "1.5 L", "1.7 L"], (1850, 3000), 3),
    "toaster": ("Toaster", ["Ember", "Crisp", "Hearth"], ["2-slice", "4-slice", "long-slot"], (800, 1800), 3),
    "coffee": ("Coffee Machine", ["Crema", "Ristretto", "Lungo"], ["bean-to-cup", "filter", "capsule"], (1200, 1500), 3),
    "dishwasher": ("Dishwasher", ["Clearwave", "Tidewater", "Rinse"], ["45 cm slimline", "60 cm freestanding", "60 cm integrated"], (1800, 2400), 5),
    "washer": ("Washing Machine", ["W1", "W2", "Harbour", "Meridian"], ["7 kg", "8 kg", "9 kg", "10 kg"], (2000, 2300), 5),
}
COLOURS = ["brushed steel", "matt black", "chalk white", "sage green", "harbour blue", "copper"]
FEATURES = {
    "kettle": ["a concealed flat-plate element that is easy to wipe clean", "a removable, washable limescale filter",
               "four temperature settings for tea and coffee", "a keep-warm function that lasts thirty minutes",
               "a double-walled body that stays cool to the touch", "a quiet-boil mode for open-plan kitchens"],
    "toaster": ["variable browning control with seven settings", "a defrost setting for frozen bread",
                "a reheat setting that warms without browning", "a high-lift lever for small slices",
                "a slide-out crumb tray", "a bun-warming rack that folds away"],
    "coffee": ["a conical steel grinder with thirteen settings", "an automatic milk frother",
               "a descaling reminder based on your water hardness", "a removable brewing unit you can rinse under the tap",
               "two cups at once", "an eco mode that switches off after ten minutes"],
    "dishwasher": ["an auto programme that senses how dirty the dishes are", "a third cutlery drawer",
                   "half-load mode for small households", "a quiet night programme at 42 dB",
                   "an anti-flood system that shuts off the water if a leak is detected", "a delay start of up to 24 hours"],
    "washer": ["a drain pump filter you can clean without tools", "a 20-minute quick wash",
               "an allergy care programme at 60 degrees", "steam refresh for lightly worn clothes",
               "automatic load detection that adjusts water use", "a front panel that comes off for easy repair"],
}
FAQ = {
    "kettle": [("Why does my kettle make a loud rumbling noise?", "Rumbling usually means limescale has built up on the element. Descale the kettle with a mixture of one part white vinegar and two parts water, leave it for an hour, then rinse and boil fresh water twice."),
               ("Can I boil less than one cup of water?", "Always fill at least to the MIN mark. Boiling less water than that can trigger the boil-dry protection and switch the kettle off."),
               ("The lid does not stay closed.", "Press the lid down firmly until it clicks. If it still opens, the catch may be worn; contact Brightwater Service for a replacement lid, which is covered by the guarantee.")],
    "toaster": [("Why is my toast uneven?", "Bread of uneven thickness browns unevenly. Use slices of the same thickness, and empty the crumb tray, because crumbs on the elements can cause dark patches."),
                ("The lever will not stay down.", "The toaster must be plugged in and switched on at the socket for the lever to lock. If it still will not stay down, unplug the toaster and contact Brightwater Service."),
                ("Is it safe to toast bagels?", "Yes. Use the bagel setting, which heats the cut side more than the crust side. Make sure the bagel halves fit the slots without being forced.")],
    "coffee": [("My coffee tastes bitter.", "Try a coarser grind and a slightly lower temperature. Bitterness also comes from old coffee oils, so rinse the brewing unit under the tap once a week."),
               ("The machine asks for water although the tank is full.", "Remove the tank and put it back firmly. Check that the float inside the tank moves freely. If the message stays, run the descaling programme."),
               ("How do I switch off the beep?", "Hold the cup button and the steam button together for three seconds. The lights flash twice to confirm the beep is off.")],
    "dishwasher": [("My glasses come out cloudy.", "Cloudiness can be limescale or etching. Check that the rinse aid and salt are topped up and that the water hardness is set correctly. If the cloudiness cannot be wiped off, use a lower temperature programme for glasses."),
                   ("There is water left in the bottom after a cycle.", "A small amount of water is normal. If there is more than a cup, clean the filter at the bottom of the tub and check that the drain hose is not kinked."),
                   ("The dishwasher shows E4.", "E4 means water is not coming in. Check that the tap is open and clean the inlet filter where the hose connects to the machine.")],
    "washer": [("The machine shows F21.", "F21 means the drum cannot drain. Place a towel and a shallow tray under the filter flap at the bottom front, open the flap, slowly unscrew the filter and clean it, then screw it back firmly."),
               ("My washing machine moves during the spin cycle.", "Check that the transport bolts have been removed and that all four feet stand firmly on the floor. Adjust the feet and lock them with the nuts."),
               ("Clothes still smell after washing.", "Run an empty maintenance wash at 90 degrees once a month, leave the door and the detergent drawer open between washes, and do not leave wet laundry in the drum.")],
}
POLICY_TOPICS = [
    ("Remote working", ["Employees in office roles may work from home up to three days a week, by agreement with their manager.",
                        "Your home workspace must be safe and suitable; the People team can arrange a chair and screen on request.",
                        "Customer data may only be handled on company equipment, never on personal devices.",
                        "Team days, when everyone is in the office, are set by each team and published a month ahead."]),
    ("Training and development", ["Every employee has a development budget for courses, books and conferences, agreed each year with their manager.",
                                  "Apprentices spend one day a week at college, paid as a working day.",
                                  "Internal training on safety and data protection is mandatory and must be renewed every year.",
                                  "If Brightwater pays for a qualification and you leave within a year of finishing it, you may be asked to repay part of the cost."]),
    ("Gifts and hospitality", ["You may accept small gifts from suppliers worth less than fifty pounds, and must record them in the gifts register.",
                               "Never accept cash, vouchers or gifts during a tender or contract negotiation.",
                               "Hospitality such as a working lunch is acceptable if it is modest and has a clear business purpose.",
                               "If you are unsure, ask the compliance team before accepting."]),
    ("Company vehicles", ["Service engineers receive a van that may be used for commuting but not for other private journeys.",
                          "Drivers must check the van daily using the checklist in the glove box and report defects the same day.",
                          "Mobile phones may only be used with the hands-free kit, and only when it is safe.",
                          "Fines for speeding or parking offences are the driver's responsibility."]),
    ("Spare parts availability", ["Brightwater keeps spare parts for every product for at least fifteen years after the product was last made.",
                                  "Parts that wear out, such as filters, seals and brushes, are sold to customers directly.",
                                  "Parts that affect electrical safety are supplied only to approved repairers.",
                                  "Repair manuals and parts diagrams are published free of charge on our website."]),
    ("Refurbished products", ["Returned appliances are inspected, cleaned and rebuilt at the refurbishment centre.",
                              "Every refurbished product passes the same electrical safety tests as a new one.",
                              "Refurbished products carry a two-year guarantee.",
                              "Cosmetic marks are described honestly on the label and on the website."]),
    ("Complaints handling", ["Every complaint is acknowledged within one working day.",
                             "A named person owns each complaint until it is resolved.",
                             "We aim to resolve complaints within eight weeks and tell customers if it will take longer.",
                             "Customers who are not satisfied may refer their complaint to the independent ombudsman."]),
    ("Product safety", ["Any report of smoke, burning, sparks or electric shock is escalated to the product safety team at once.",
                        "The safety team decides within two working days whether a product needs further investigation.",
                        "Recalls are announced on our website, by email to registered owners and by post where we have an address.",
                        "Staff must never advise a customer to keep using a product that may be unsafe."]),
]
BULLETIN_FAULTS = [
    ("intermittent no-heat fault", "a loose connector on the thermostat", "reseat the connector and fit the new locking clip, part BW-4471"),
    ("noisy spin cycle", "a worn drum bearing", "replace the bearing kit, part BW-2210, and check the shock absorbers"),
    ("door seal leak", "a seal fitted without its retaining wire", "refit the seal with the retaining wire, part BW-3306"),
    ("display flicker", "a dry joint on the display board", "replace the display board, part BW-5120"),
    ("slow fill", "a partly blocked inlet valve filter", "clean or replace the inlet filter, part BW-1108"),
    ("grinder jam", "oily beans building up in the grinder", "clean the grinder with the brush supplied and advise the customer on bean choice"),
]
CITIES = ["Millbrook", "Eastfield", "Harrow Bay", "Kingsmere", "Oakridge", "Redcliffe", "Stonebridge", "Westport"]
NAMES = ["A. Okafor", "B. Lindgren", "C. Moreau", "D. Achterberg", "E. Nakamura", "F. Duarte", "G. Whitfield", "H. Kowalski"]


def product_sheet(family, name, variant, colour, number):
    title, _, _, (w_lo, w_hi), years = FAMILIES[family]
    watts = rng.randrange(w_lo, w_hi + 1, 50)
    feats = rng.sample(FEATURES[family], 4)
    price = rng.randrange(39, 900) if family in ("dishwasher", "washer") else rng.randrange(25, 260)
    if family in ("dishwasher", "washer"):
        price = rng.randrange(349, 899)
    energy = rng.choice(["A", "B", "C"])
    lines = [f"# Brightwater {name} {title} ({variant}, {colour})", "",
             f"Model number: BW-{family[:2].upper()}-{number:04d}", "",
             f"The Brightwater {name} is a {variant} {title.lower()} finished in {colour}. "
             f"It is built to last, with a {years}-year guarantee that extends by two years when you register it.", "",
             "## Key features", ""]
    lines += [f"- {f[0].upper()}{f[1:]}." for f in feats]
    lines += ["", "## Technical data", "",
              f"- Rated power: {watts} W",
              f"- Energy class: {energy}" if family in ("dishwasher", "washer") else f"- Cable length: {rng.choice([0.75, 0.8, 1.0, 1.2])} m",
              f"- Weight: {rng.uniform(1.0, 4.0) if family in ('kettle', 'toaster', 'coffee') else rng.uniform(38, 80):.1f} kg",
              f"- Recommended retail price: £{price}",
              f"- Spare parts available until at least {2026 + 15}", "",
              "## In the box", "",
              f"The {title.lower()}, a quick start guide, the full user manual and a guarantee registration card."
              + (" A descaling sachet is included." if family in ("kettle", "coffee") else "")
              + (" Inlet and drain hoses and transport bolt covers are included." if family in ("dishwasher", "washer") else ""), ""]
    return "\n".join(lines)


def faq_page(family, number):
    title = FAMILIES[family][0]
    items = list(FAQ[family])
    rng.shuffle(items)
    lines = [f"# {title} questions and answers — collection {number}", ""]
    for q, a in items:
        lines += [f"**{q}**", a, ""]
    lines.append(f"If your question is not answered here, call Brightwater Service or write to service@brightwater.example, quoting your model number.")
    return "\n".join(lines) + "\n"


def policy_page(topic, points, version):
    lines = [f"# Policy: {topic}", "", f"Version {version}. Owner: {rng.choice(['People team', 'Operations', 'Compliance', 'Customer Service'])}.", ""]
    for i, p in enumerate(points, 1):
        lines.append(f"{i}. {p}")
    lines += ["", "This policy applies to everyone who works for Brightwater, including contractors and temporary staff. "
              "Questions about it go to the owner named above.", ""]
    return "\n".join(lines)


def bulletin(number):
    family = rng.choice(list(FAMILIES))
    title = FAMILIES[family][0]
    name = rng.choice(FAMILIES[family][1])
    symptom, cause, fix = rng.choice(BULLETIN_FAULTS)
    city = rng.choice(CITIES)
    month = rng.choice(["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"])
    return (f"Service bulletin {number:03d}: {name} {title}, {symptom}\n\n"
            f"Issued in {month} by {rng.choice(NAMES)}, technical support, after reports from engineers in {city}.\n\n"
            f"Symptom: customers report a {symptom} on some {name} {title.lower()}s made in the last {rng.randint(2, 18)} months.\n"
            f"Cause: the investigation found {cause}.\n"
            f"Action: on the next visit, {fix}. Record the bulletin number on the job sheet. "
            f"The repair is free of charge for the customer, inside or outside the guarantee.\n\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    sheets, n = [], 1
    for family, (_, names, variants, _, _) in FAMILIES.items():
        for name in names:
            for variant in variants:
                for colour in rng.sample(COLOURS, 2):
                    sheets.append(product_sheet(family, name, variant, colour, n))
                    n += 1
    with open(os.path.join(OUT, "product-sheets.md"), "w", encoding="utf-8") as f:
        f.write("\n\n".join(sheets))
    with open(os.path.join(OUT, "faq-collection.md"), "w", encoding="utf-8") as f:
        for i in range(1, 6):
            for family in FAMILIES:
                f.write(faq_page(family, i) + "\n")
    with open(os.path.join(OUT, "policies.md"), "w", encoding="utf-8") as f:
        for version in (1, 2):
            for topic, points in POLICY_TOPICS:
                pts = list(points)
                rng.shuffle(pts)
                f.write(policy_page(topic, pts, f"{version}.{rng.randint(0, 9)}") + "\n")
    with open(os.path.join(OUT, "service-bulletins.txt"), "w", encoding="utf-8") as f:
        for i in range(1, 161):
            f.write(bulletin(i))


if __name__ == "__main__":
    main()
