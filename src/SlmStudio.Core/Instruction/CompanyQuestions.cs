using System.Globalization;
using System.Text;

namespace SlmStudio.Core.Instruction;

/// <summary>One fact of the benchmark company and the ways a customer may ask for it.</summary>
public sealed record CompanyFact(string Kind, IReadOnlyList<string> Questions, string Answer);

/// <summary>
/// A made-up office-supplies company's knowledge as question/answer pairs, the same every time: product prices,
/// warranties and colours, department contacts and opening hours, office addresses and policies. Every fact can be
/// asked in <see cref="PhrasingsPerFact"/> ways; the held-out set asks each fact in the one way training never used for
/// it (a different way for different facts, so every phrasing is still seen in training with other facts). That is what
/// a company needs: its customers do not ask in the words of the FAQ.
/// </summary>
public static class CompanyQuestions
{
    public const int PhrasingsPerFact = 5;

    private static readonly (string Name, int Price, int Years, string Colour1, string Colour2)[] Products =
    [
        ("desk lamp", 39, 2, "black", "white"), ("office chair", 249, 5, "grey", "blue"), ("standing desk", 499, 7, "oak", "white"),
        ("paper shredder", 89, 1, "black", "silver"), ("label printer", 129, 2, "white", "red"), ("whiteboard", 59, 3, "white", "green"),
        ("filing cabinet", 179, 10, "grey", "black"), ("monitor arm", 69, 3, "silver", "black"), ("laminator", 45, 1, "blue", "white"),
        ("desk organiser", 19, 1, "green", "yellow"), ("ergonomic keyboard", 99, 2, "black", "grey"), ("wireless mouse", 29, 1, "black", "pink"),
        ("footrest", 35, 2, "black", "blue"), ("bookshelf", 149, 5, "oak", "walnut"), ("coat stand", 55, 3, "black", "chrome"),
        ("stapler", 12, 1, "red", "black"), ("document scanner", 299, 3, "grey", "white"), ("noise cancelling headset", 119, 2, "black", "silver"),
        ("webcam", 79, 2, "black", "white"), ("desk fan", 25, 1, "white", "blue"),
    ];

    private static readonly (string Name, string Email, int Extension, string Days, string Opens, string Closes)[] Departments =
    [
        ("billing", "billing@northwind.example", 210, "Monday to Friday", "8 am", "5 pm"),
        ("technical support", "support@northwind.example", 300, "every day", "7 am", "10 pm"),
        ("returns", "returns@northwind.example", 240, "Monday to Saturday", "9 am", "6 pm"),
        ("sales", "sales@northwind.example", 100, "Monday to Friday", "9 am", "7 pm"),
        ("shipping", "shipping@northwind.example", 250, "Monday to Friday", "6 am", "4 pm"),
        ("human resources", "people@northwind.example", 400, "Tuesday to Thursday", "10 am", "3 pm"),
        ("business accounts", "accounts@northwind.example", 120, "Monday to Friday", "8 am", "6 pm"),
        ("warranty claims", "claims@northwind.example", 320, "Monday to Saturday", "8 am", "2 pm"),
    ];

    private static readonly (string City, string Address)[] Offices =
    [
        ("Leeds", "14 Park Row"), ("Bristol", "2 Harbour Walk"), ("Glasgow", "88 Union Street"),
        ("Cardiff", "31 Queen Street"), ("Norwich", "7 Elm Hill"), ("York", "19 Stonegate"),
    ];

    private static readonly CompanyFact[] Policies =
    [
        new("policy", ["How many days do I have to return an item?", "What is your return policy?", "Can I send something back after I bought it?", "How long is the return period?", "Until when can I return a product?"],
            "You can return any unused item within 30 days for a full refund."),
        new("policy", ["How much does delivery cost?", "Is shipping free?", "What do you charge for shipping?", "Do I pay for delivery?", "What are the delivery charges?"],
            "Delivery is free on orders over 50 dollars; smaller orders pay 5 dollars."),
        new("policy", ["How long does delivery take?", "When will my order arrive?", "How fast do you ship?", "How many days until my order is delivered?", "What is the usual delivery time?"],
            "Orders arrive within three working days."),
        new("policy", ["Which payment methods do you accept?", "Can I pay by card?", "How can I pay for my order?", "What ways of paying do you take?", "Do you accept bank transfers?"],
            "We accept cards, bank transfer and invoices for business accounts."),
        new("policy", ["Do you offer discounts for schools?", "Is there a discount for teachers?", "Do schools get a lower price?", "Can a school get a reduced price?", "What discount do education customers get?"],
            "Schools and universities get 15 percent off every order."),
        new("policy", ["Do you deliver abroad?", "Can you ship outside the country?", "Do you send orders overseas?", "Is international delivery possible?", "Can I order from another country?"],
            "We deliver only within the United Kingdom."),
        new("policy", ["How do I track my order?", "Where can I see where my parcel is?", "Can I follow my delivery?", "Is there a tracking number for my order?", "How do I find out where my order is?"],
            "Every order email has a tracking link that shows where your parcel is."),
        new("policy", ["Can I change my order after placing it?", "How do I change an order?", "Is it possible to edit my order?", "Can I add an item to my order?", "What if I want to change what I ordered?"],
            "You can change an order within two hours of placing it by calling sales."),
    ];

    /// <summary>Every fact with its phrasings (the order and the texts never change).</summary>
    public static IReadOnlyList<CompanyFact> Facts()
    {
        var facts = new List<CompanyFact>();
        foreach (var (name, price, years, c1, c2) in Products)
        {
            facts.Add(new("price", [$"How much does the {name} cost?", $"What is the price of the {name}?", $"What do you charge for the {name}?", $"How expensive is the {name}?", $"Could you tell me what the {name} costs?"],
                string.Create(CultureInfo.InvariantCulture, $"The {name} costs {price} dollars.")));
            facts.Add(new("warranty", [$"How long is the warranty on the {name}?", $"What warranty comes with the {name}?", $"Is the {name} covered by a warranty?", $"For how many years is the {name} guaranteed?", $"What is the guarantee period for the {name}?"],
                $"The {name} has a {Number(years)} year warranty."));
            facts.Add(new("colours", [$"What colours does the {name} come in?", $"Which colours is the {name} available in?", $"Can I get the {name} in different colours?", $"What colour options are there for the {name}?", $"In which colours do you sell the {name}?"],
                $"The {name} comes in {c1} and {c2}."));
        }
        foreach (var (name, email, extension, days, opens, closes) in Departments)
        {
            facts.Add(new("contact", [$"How do I contact {name}?", $"What is the email address for {name}?", $"How can I reach the {name} team?", $"Who do I write to about {name}?", $"What is the best way to get in touch with {name}?"],
                string.Create(CultureInfo.InvariantCulture, $"Email {name} at {email} or call extension {extension}.")));
            facts.Add(new("hours", [$"When is {name} open?", $"What are the opening hours of {name}?", $"At what time does {name} open?", $"Which hours does the {name} team work?", $"When can I call {name}?"],
                $"{char.ToUpperInvariant(name[0])}{name[1..]} is open {days} from {opens} to {closes}."));
        }
        foreach (var (city, address) in Offices)
            facts.Add(new("office", [$"Where is your {city} office?", $"What is the address of the {city} office?", $"Do you have an office in {city}?", $"How do I find your {city} office?", $"Where can I visit you in {city}?"],
                $"Our {city} office is at {address}."));
        facts.AddRange(Policies);
        return facts;
    }

    /// <summary>
    /// The pairs to train on (every fact in four of its phrasings) and the held-out pairs (every fact in its fifth
    /// phrasing: fact i holds out phrasing i mod 5).
    /// </summary>
    public static (IReadOnlyList<(string Question, string Answer)> Train, IReadOnlyList<(string Question, string Answer)> HeldOut) Split()
    {
        var train = new List<(string, string)>();
        var heldOut = new List<(string, string)>();
        var facts = Facts();
        for (int i = 0; i < facts.Count; i++)
            for (int p = 0; p < facts[i].Questions.Count; p++)
                (p == i % PhrasingsPerFact ? heldOut : train).Add((facts[i].Questions[p], facts[i].Answer));
        return (train, heldOut);
    }

    /// <summary>Pairs as a CSV file with the columns "question" and "answer".</summary>
    public static string Csv(IEnumerable<(string Question, string Answer)> pairs)
    {
        var csv = new StringBuilder("question,answer\n");
        foreach (var (q, a) in pairs) csv.Append(Quote(q)).Append(',').Append(Quote(a)).Append('\n');
        return csv.ToString();

        static string Quote(string s) => "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    private static string Number(int n) => n switch
    {
        1 => "one", 2 => "two", 3 => "three", 5 => "five", 7 => "seven", 10 => "ten",
        _ => n.ToString(CultureInfo.InvariantCulture),
    };
}
