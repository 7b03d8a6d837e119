using SlmStudio.Core.Data;
using SlmStudio.Core.Retrieval;
using SlmStudio.Core.Tests.Data;

namespace SlmStudio.Core.Tests.Retrieval;

/// <summary>
/// A small company handbook in six files of the kinds users upload (Markdown with headings and a table, plain text,
/// CSV, HTML with a table, Word with a table, a two-page PDF), read through the real extraction pipeline, and
/// questions whose answer locations are known.
/// </summary>
public static class HandbookCorpus
{
    public const string Markdown = """
        # Employee Handbook

        Welcome to **Northwind Traders**. This handbook explains how we work together. Read the
        [full policies](https://intranet.example/policies) on the intranet.

        ## Working hours

        Our core hours are *10:00 to 16:00*, Monday to Friday. Outside the core hours you plan your own
        time with your team. Full-time staff work 38 hours a week; overtime must be agreed with your manager
        beforehand and is paid or taken as time off in lieu.

        ## Leave

        ### Annual leave

        Every full-time employee gets **28 days** of paid holiday (vacation) per calendar year, plus public holidays.
        Book holiday in the HR portal at least two weeks ahead. You may carry over up to **5 unused days** into
        the next year; carried-over days expire on 31 March.

        ### Sick leave

        If you are ill, tell your manager by phone before 9:00 on the first day. From the fourth day of illness
        you need a doctor's certificate, which you upload in the HR portal.

        ### Leave types at a glance

        | Leave type | Days per year | Approved by |
        |---|---|---|
        | Parental leave | 20 paid days | HR |
        | Bereavement leave | 5 days | Your manager |
        | Study leave | 3 days | Your manager |

        ## Second jobs and outside work

        Moonlighting, that is taking a second job or freelance work next to your job here, is allowed with written
        approval from HR. Ask before you start. Work for a competitor, or work that uses company equipment or
        confidential information, is never approved. Declare any paid board membership as well.

        ## Equipment

        You receive a laptop and a phone on your first day. Report a lost or stolen device to the `IT service desk`
        (servicedesk@northwind-traders.com) within 24 hours so that it can be locked remotely.
        """;

    public const string Text = """
        Travel and Expenses Policy

        Booking travel

        Book all business trips through the travel desk. Flights of less than six hours are booked in economy class;
        longer flights may be booked in premium economy. Trains are preferred for trips under four hours.

        Meals

        On business trips the company pays a daily meal allowance of 45 euros. Alcohol is not reimbursed.

        Mileage

        If you use your own car for business, you are reimbursed 0.30 euros per kilometre driven.

        Submitting claims

        Submit expense claims within 30 days of the trip in the expenses app, with a photo of every receipt.
        Claims submitted later are not reimbursed.
        """;

    public const string Csv = """
        Office,Details
        Berlin,"The Berlin office is at Friedrichstrasse 12. Reception opens at 8:00. Staff park in the underground garage with their badge."
        Lisbon,"The Lisbon office is at Avenida da Liberdade 90. Reception opens at 9:00. There is no parking; use the metro station next door."
        Dublin,"The Dublin office is at 3 Grand Canal Square. Reception opens at 8:30. Bicycle racks and showers are on the ground floor."
        """;

    public const string Html = """
        <!DOCTYPE html>
        <html><head><title>IT Security</title><style>p { color: red; }</style></head>
        <body>
        <h1>IT Security Guidelines</h1>
        <h2>Passwords</h2>
        <p>Passwords must be at least <strong>14 characters</strong> long. Store them in the company password manager
        and never reuse a password for two accounts. Multi-factor authentication is required for email.</p>
        <h2>Phishing</h2>
        <p>If an email looks suspicious, do not click its links. Forward it to the security team with the
        <em>Report phishing</em> button and then delete it.</p>
        <h2>Approved software</h2>
        <table>
        <tr><th>Software</th><th>Allowed</th><th>Note</th></tr>
        <tr><td>Dropbox</td><td>No</td><td>Use the company file share instead</td></tr>
        <tr><td>Zoom</td><td>Yes</td><td>Company account only</td></tr>
        </table>
        </body></html>
        """;

    public static byte[] Docx() => TestSupport.WordDocuments.Docx("Benefits Overview",
        [
            "Gym membership",
            "The company pays half of a gym or sports club membership, up to 40 euros a month. Send the invoice to HR once a quarter.",
            "Pension",
            "We add 4 percent of your salary to the company pension plan when you contribute at least 2 percent yourself.",
        ],
        [["Benefit", "Who", "Amount"], ["Public transport ticket", "All staff", "Full price"], ["Lunch vouchers", "Office staff", "8 euros a day"]]);

    public static byte[] Pdf() => DataFixtures.Pdf(
        [
            "Fire Safety",
            "",
            "When the fire alarm sounds, leave the building by the nearest stairs. Do not use the lifts.",
            "Meet at the assembly point in the car park across the street and wait for the fire warden.",
        ],
        [
            "First Aid",
            "",
            "First aid kits are kept in the kitchen on every floor and at reception.",
            "The names of the trained first aiders are posted next to each kit.",
        ]);

    /// <summary>Writes the six files into <paramref name="folder"/> and extracts them in this process.</summary>
    public static IReadOnlyList<ExtractedDocument> Extract(TempFolder folder)
    {
        var files = new (string Name, Func<string> Write)[]
        {
            ("handbook.md", () => folder.Write("handbook.md", Markdown)),
            ("expenses.txt", () => folder.Write("expenses.txt", Text)),
            ("offices.csv", () => folder.Write("offices.csv", Csv)),
            ("it-security.html", () => folder.Write("it-security.html", Html)),
            ("benefits.docx", () => folder.Write("benefits.docx", Docx())),
            ("safety.pdf", () => folder.Write("safety.pdf", Pdf())),
        };
        return [.. files.Select(f => DocumentExtractor.Extract(f.Write(), f.Name, null, DataLimits.Default, CancellationToken.None))];
    }

    public static IReadOnlyList<RetrievalQuestion> Questions { get; } =
    [
        new("How do we handle moonlighting?", "handbook.md", "Second jobs"),
        new("How many days of annual leave do I get?", "handbook.md", "Annual leave"),
        new("Can I carry over unused vacation days to next year?", "handbook.md", "Annual leave"),
        new("What should I do when I am sick?", "handbook.md", "Sick leave"),
        new("What are the core working hours?", "handbook.md", "Working hours"),
        new("How long is parental leave?", "handbook.md", ExpectedText: "Parental leave"),
        new("What is the daily meal allowance on a business trip?", "expenses.txt", "Meals"),
        new("How much is the mileage reimbursement for my own car?", "expenses.txt", "Mileage"),
        new("When must expense claims be submitted?", "expenses.txt", "Submitting claims"),
        new("Which class can I book for a long flight?", "expenses.txt", "Booking travel"),
        new("How long must a password be?", "it-security.html", "Passwords"),
        new("What do I do with a suspicious email?", "it-security.html", "Phishing"),
        new("Am I allowed to use Dropbox?", "it-security.html", ExpectedText: "Dropbox"),
        new("Does the company pay for my gym membership?", "benefits.docx", "Gym membership"),
        new("How much does the company add to my pension?", "benefits.docx", "Pension"),
        new("Are there lunch vouchers?", "benefits.docx", ExpectedText: "Lunch vouchers"),
        new("Where are the first aid kits kept?", "safety.pdf", "First Aid"),
        new("What do I do when the fire alarm goes off?", "safety.pdf", "Fire Safety"),
        new("Where can I park at the Berlin office?", "offices.csv", ExpectedText: "Berlin"),
        // Worded differently from the documents.
        new("Can I work a second job?", "handbook.md", "Second jobs"),
        new("Who approves bereavement leave?", "handbook.md", ExpectedText: "Bereavement"),
        new("Is there a bike rack in Dublin?", "offices.csv", ExpectedText: "Dublin"),
        new("Do I need a doctor's note?", "handbook.md", "Sick leave"),
        new("What time does reception open in Lisbon?", "offices.csv", ExpectedText: "Lisbon"),
        new("Where do we meet during a fire evacuation?", "safety.pdf", ExpectedText: "assembly point"),
        new("Do I get paid for overtime?", "handbook.md", "Working hours"),
        new("When do carried over holidays expire?", "handbook.md", "Annual leave"),
        new("What happens if I lose my laptop?", "handbook.md", "Equipment"),
    ];

    /// <summary>Questions the handbook does not answer, some sharing a common word with it.</summary>
    public static IReadOnlyList<string> UnrelatedQuestions { get; } =
    [
        "What is the capital of Peru?",
        "Who won the football world cup in 2018?",
        "How do I bake sourdough bread?",
        "Which employees play chess on Fridays?",
        "How tall is the company's founder?",
        "What is the boiling point of mercury?",
        "What is the weather in Berlin tomorrow?",
        "Can I bring my dog to the office?",
        "How do I renew my passport?",
        "What is the best programming language?",
    ];
}
