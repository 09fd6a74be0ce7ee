"""A deterministic synthetic startups data set, in the demo data's format, for scale benchmarks.

    .venv/bin/python bench/data.py 10000 > /tmp/companies-10k.jsonl
    .venv/bin/python bench/data.py 50000 --seed 7 > /tmp/companies-50k.jsonl

Each company has a made-up but plausible name, a sector, 1-4 sentences of description built from
that sector's vocabulary, market tags (as the logo alt text, like the real data), a website and
one of ~50 cities with a skewed (Zipf-like) distribution. The same N and seed give the same file.
"""

import argparse
import json
import random
import sys

CITIES = [
    "San Francisco",
    "New York",
    "London",
    "Chicago",
    "Boston",
    "Berlin",
    "Austin",
    "Seattle",
    "Los Angeles",
    "Paris",
    "Toronto",
    "Tel Aviv",
    "Bangalore",
    "Singapore",
    "Amsterdam",
    "Stockholm",
    "Denver",
    "Atlanta",
    "Miami",
    "Washington",
    "Dublin",
    "Sydney",
    "Barcelona",
    "Munich",
    "Zurich",
    "Copenhagen",
    "Helsinki",
    "Lisbon",
    "Madrid",
    "Milan",
    "Vienna",
    "Warsaw",
    "Prague",
    "Tallinn",
    "Oslo",
    "Montreal",
    "Vancouver",
    "Portland",
    "Salt Lake City",
    "Pittsburgh",
    "Philadelphia",
    "Detroit",
    "Minneapolis",
    "Nashville",
    "Raleigh",
    "Phoenix",
    "San Diego",
    "Dallas",
    "Houston",
    "Seoul",
]

SECTORS = {
    "health care": {
        "things": [
            "patient records",
            "telehealth visits",
            "clinical trials",
            "care plans",
            "lab results",
            "prescriptions",
            "therapy sessions",
            "hospital staffing",
        ],
        "users": ["doctors", "nurses", "clinics", "hospitals", "patients", "caregivers"],
        "tags": ["health care", "digital health", "telemedicine", "health and wellness"],
    },
    "fintech": {
        "things": [
            "payments",
            "invoices",
            "small business loans",
            "expense reports",
            "payroll",
            "credit scores",
            "savings goals",
            "cross-border transfers",
        ],
        "users": ["freelancers", "small businesses", "banks", "accountants", "families"],
        "tags": ["financial services", "payments", "lending", "personal finance"],
    },
    "education": {
        "things": [
            "homework help",
            "online courses",
            "lesson plans",
            "test prep",
            "language lessons",
            "coding bootcamps",
            "classroom quizzes",
            "tutoring",
        ],
        "users": ["students", "teachers", "parents", "schools", "universities"],
        "tags": ["education", "edtech", "k 12 education", "higher education"],
    },
    "food": {
        "things": [
            "meal kits",
            "restaurant orders",
            "catering",
            "grocery delivery",
            "menu planning",
            "food waste",
            "table reservations",
            "recipes",
        ],
        "users": ["restaurants", "home cooks", "offices", "food trucks", "grocers"],
        "tags": ["food and beverages", "restaurants", "delivery", "local businesses"],
    },
    "travel": {
        "things": [
            "flight deals",
            "hotel bookings",
            "vacation rentals",
            "travel itineraries",
            "loyalty points",
            "airport transfers",
            "group trips",
            "visa paperwork",
        ],
        "users": ["travelers", "business travelers", "airlines", "hotels", "tour operators"],
        "tags": ["travel", "hospitality", "online travel", "tourism"],
    },
    "real estate": {
        "things": [
            "apartment listings",
            "mortgages",
            "property management",
            "home inspections",
            "rent payments",
            "office space",
            "home renovations",
            "tenant screening",
        ],
        "users": ["renters", "landlords", "home buyers", "real estate agents", "property owners"],
        "tags": ["real estate", "property management", "proptech", "mortgages"],
    },
    "marketing": {
        "things": [
            "email campaigns",
            "social media ads",
            "customer reviews",
            "loyalty programs",
            "brand analytics",
            "influencer campaigns",
            "search rankings",
            "coupons",
        ],
        "users": ["marketers", "brands", "retailers", "agencies", "local shops"],
        "tags": ["marketing", "advertising", "social media", "analytics"],
    },
    "recruiting": {
        "things": [
            "job postings",
            "candidate screening",
            "interviews",
            "shift scheduling",
            "employee onboarding",
            "freelance gigs",
            "background checks",
            "referrals",
        ],
        "users": ["recruiters", "hiring managers", "job seekers", "HR teams", "staffing agencies"],
        "tags": ["recruiting", "human resources", "staffing", "jobs"],
    },
    "retail": {
        "things": [
            "online stores",
            "inventory",
            "point of sale",
            "fashion boxes",
            "product returns",
            "gift cards",
            "pricing",
            "store layouts",
        ],
        "users": ["shoppers", "retailers", "boutiques", "brands", "e-commerce sellers"],
        "tags": ["retail", "e-commerce", "fashion", "consumer goods"],
    },
    "logistics": {
        "things": [
            "freight",
            "last-mile delivery",
            "warehouse space",
            "fleet tracking",
            "shipping labels",
            "route planning",
            "supply chains",
            "customs forms",
        ],
        "users": ["shippers", "carriers", "warehouses", "truck drivers", "manufacturers"],
        "tags": ["logistics", "supply chain", "transportation", "shipping"],
    },
    "energy": {
        "things": [
            "solar panels",
            "energy bills",
            "battery storage",
            "EV charging",
            "smart thermostats",
            "carbon reports",
            "wind farms",
            "power usage",
        ],
        "users": ["homeowners", "utilities", "factories", "cities", "fleet operators"],
        "tags": ["clean energy", "clean technology", "solar", "sustainability"],
    },
    "security": {
        "things": [
            "network threats",
            "password leaks",
            "phishing emails",
            "server logs",
            "access control",
            "compliance audits",
            "fraud alerts",
            "cloud accounts",
        ],
        "users": ["IT teams", "banks", "hospitals", "startups", "governments"],
        "tags": ["security", "cyber security", "fraud detection", "compliance"],
    },
    "media": {
        "things": [
            "podcasts",
            "news stories",
            "video clips",
            "music licensing",
            "live streams",
            "photo sharing",
            "book publishing",
            "event tickets",
        ],
        "users": ["creators", "publishers", "fans", "musicians", "newsrooms"],
        "tags": ["digital media", "entertainment", "music", "publishing"],
    },
    "legal": {
        "things": [
            "contracts",
            "legal documents",
            "court filings",
            "patents",
            "immigration forms",
            "lawyer referrals",
            "wills",
            "compliance checklists",
        ],
        "users": ["lawyers", "law firms", "small businesses", "inventors", "families"],
        "tags": ["legal", "legal tech", "government", "professional services"],
    },
    "hardware": {
        "things": [
            "sensors",
            "smart locks",
            "wearables",
            "drones",
            "3D printers",
            "home cameras",
            "industrial robots",
            "connected bikes",
        ],
        "users": ["homeowners", "factories", "farmers", "athletes", "city planners"],
        "tags": ["hardware", "internet of things", "consumer electronics", "robotics"],
    },
    "nonprofit": {
        "things": [
            "donations",
            "volunteer shifts",
            "fundraising pages",
            "grant applications",
            "charity events",
            "community projects",
            "impact reports",
            "crowdfunding",
        ],
        "users": ["nonprofits", "donors", "volunteers", "schools", "communities"],
        "tags": ["nonprofits", "crowdfunding", "ventures for good", "social impact"],
    },
    "investing": {
        "things": [
            "seed funding",
            "stock research",
            "portfolio tracking",
            "angel rounds",
            "market data",
            "retirement plans",
            "trading signals",
            "startup equity",
        ],
        "users": ["investors", "founders", "traders", "fund managers", "savers"],
        "tags": ["venture capital", "investment management", "financial services", "trading"],
    },
    "sports": {
        "things": [
            "workout plans",
            "team schedules",
            "game stats",
            "fitness classes",
            "running routes",
            "league signups",
            "coaching videos",
            "stadium seats",
        ],
        "users": ["athletes", "coaches", "gyms", "fans", "youth leagues"],
        "tags": ["sports", "fitness", "health and wellness", "events"],
    },
}

VERBS = [
    "manage",
    "track",
    "automate",
    "simplify",
    "book",
    "compare",
    "share",
    "organize",
    "find",
    "plan",
    "analyze",
    "sell",
    "buy",
    "monitor",
    "schedule",
    "personalize",
]
OPENERS = [
    "{Name} helps {users} {verb} {thing}.",
    "{Name} is a platform for {users} to {verb} {thing}.",
    "The easiest way for {users} to {verb} {thing}.",
    "{Name} lets {users} {verb} {thing} from their phone.",
    "An app that helps {users} {verb} {thing} and {thing2}.",
    "{Name} builds software that lets {users} {verb} {thing}.",
]
FOLLOW_UPS = [
    "It connects {users} with {users2} in minutes.",
    "Customers save hours every week on {thing}.",
    "We started in {city} and now serve {users} across the country.",
    "Our team combines data science with years of experience in {sector}.",
    "{Name} integrates with the tools {users} already use.",
    "Built for {users2} who are tired of spreadsheets and phone calls.",
    "The service is free for {users} and charges {users2} a monthly fee.",
    "We use machine learning to predict demand for {thing}.",
    "Over {count} {users} already rely on {Name} for {thing2}.",
]
NAME_PARTS = (
    [
        "Blue",
        "Bright",
        "Clear",
        "Swift",
        "North",
        "True",
        "Green",
        "Open",
        "Red",
        "Silver",
        "Urban",
        "Smart",
        "Happy",
        "Bold",
        "Nimble",
        "Quiet",
        "Solid",
        "Spark",
        "Pixel",
        "Orbit",
    ],
    [
        "Harbor",
        "Leaf",
        "Path",
        "Stack",
        "Loop",
        "Nest",
        "Bridge",
        "Field",
        "Wave",
        "Peak",
        "Grid",
        "Lane",
        "Yard",
        "Hive",
        "Forge",
        "Point",
        "Spring",
        "Trail",
        "Box",
        "Mint",
    ],
    ["", "", "", " Labs", " Health", " Pay", " HQ", " Works", " AI", " App", ".io", " Co"],
)


def zipf_weights(n, exponent=1.1):
    return [1 / (rank**exponent) for rank in range(1, n + 1)]


def company(rng, number, city_weights):
    sector = rng.choice(list(SECTORS))
    vocabulary = SECTORS[sector]
    base = rng.choice(NAME_PARTS[0]) + rng.choice(NAME_PARTS[1])
    name = f"{base}{rng.choice(NAME_PARTS[2])}"
    if number >= 500:  # keep names mostly unique at scale, as real ones are
        name = (
            f"{name} {number}"
            if rng.random() < 0.5
            else f"{base} {number}{rng.choice(NAME_PARTS[2])}"
        )
    city = rng.choices(CITIES, weights=city_weights)[0]
    fill = {
        "Name": name,
        "sector": sector,
        "city": city,
        "verb": rng.choice(VERBS),
        "thing": rng.choice(vocabulary["things"]),
        "thing2": rng.choice(vocabulary["things"]),
        "users": rng.choice(vocabulary["users"]),
        "users2": rng.choice(vocabulary["users"]),
        "count": f"{rng.randint(2, 90) * 100:,}",
    }
    sentences = [rng.choice(OPENERS).format(**fill)]
    for template in rng.sample(FOLLOW_UPS, rng.randint(0, 3)):
        sentences.append(template.format(**fill))
    tags = " ".join(rng.sample(vocabulary["tags"], rng.randint(1, 3)))
    slug = "".join(ch for ch in name.lower() if ch.isalnum())
    return {
        "name": name,
        "images": f"https://images.example.com/logos/{slug}.png",
        "alt": f"{name} -  {tags}",
        "description": " ".join(sentences),
        "link": f"https://{slug}-{number}.example.com",
        "city": city,
    }


def generate(count, seed=1):
    rng = random.Random(seed)
    city_weights = zipf_weights(len(CITIES))
    for number in range(count):
        yield company(rng, number, city_weights)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", type=int, help="number of companies (up to 200,000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not 1 <= args.count <= 200_000:
        parser.error("count must be between 1 and 200,000")
    for record in generate(args.count, args.seed):
        sys.stdout.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
