using SlmStudio.Core.Retrieval;

namespace SlmStudio.Cli.Bench;

/// <summary>
/// The built-in question set of <c>slm bench ask</c>: a small company handbook and an expenses policy with questions
/// whose answer locations are known, hidden among the generated documents so that recall is measured against many
/// passages that share its everyday words (leave, policy, manager, payment…).
/// </summary>
public static class BenchHandbook
{
    public const string HandbookFile = "employee-handbook.md";
    public const string ExpensesFile = "travel-expenses.md";

    public const string Handbook = """
        # Employee Handbook

        Welcome to Northwind Traders. This handbook explains how we work together.

        ## Working hours

        Our core hours are 10:00 to 16:00, Monday to Friday. Full-time staff work 38 hours a week; overtime must be
        agreed with your manager beforehand and is paid or taken as time off in lieu.

        ## Annual leave

        Every full-time employee gets 28 days of paid holiday per calendar year. You may carry over up to 5 unused
        days into the next year; carried-over days expire on 31 March.

        ## Sick leave

        If you are ill, tell your manager by phone before 9:00 on the first day. From the fourth day of illness you
        need a doctor's certificate.

        ## Parental leave

        Parents get 20 weeks of paid parental leave, which can be split into up to three blocks in the first two years.

        ## Second jobs and outside work

        Moonlighting, that is taking a second job or freelance work next to your job here, is allowed with written
        approval from HR. Work for a competitor is never approved.

        ## Equipment

        You receive a laptop and a phone on your first day. Report a lost or stolen device to the IT service desk
        within 24 hours so that it can be wiped remotely.

        ## Passwords

        Passwords must be at least 14 characters long and kept in the company password manager. Multi-factor
        authentication is required for email.

        ## Fire safety

        When the fire alarm sounds, leave by the nearest stairs and meet at the assembly point in the car park across
        the street. Do not use the lifts.
        """;

    public const string Expenses = """
        # Travel and Expenses

        ## Meals

        On a business trip the daily meal allowance is 45 euros. Alcohol is not reimbursed.

        ## Mileage

        Using your own car for business travel is reimbursed at 30 cents per kilometre.

        ## Flights

        Flights shorter than six hours are booked in economy class; longer flights may be booked in premium economy.

        ## Claims

        Submit expense claims within 30 days of the trip in the expenses app, with a photo of every receipt.
        """;

    public static IReadOnlyList<RetrievalQuestion> Questions { get; } =
    [
        new("How do we handle moonlighting?", HandbookFile, "Second jobs"),
        new("Can I work a second job?", HandbookFile, "Second jobs"),
        new("How many days of annual leave do I get?", HandbookFile, "Annual leave"),
        new("Can I carry over unused holiday to next year?", HandbookFile, "Annual leave"),
        new("What should I do when I am sick?", HandbookFile, "Sick leave"),
        new("Do I need a doctor's certificate?", HandbookFile, "Sick leave"),
        new("How long is parental leave?", HandbookFile, "Parental leave"),
        new("What are the core working hours?", HandbookFile, "Working hours"),
        new("Is overtime paid?", HandbookFile, "Working hours"),
        new("What happens if I lose my laptop?", HandbookFile, "Equipment"),
        new("How long must a password be?", HandbookFile, "Passwords"),
        new("Where do we meet when the fire alarm sounds?", HandbookFile, "Fire safety"),
        new("What is the daily meal allowance on a business trip?", ExpensesFile, "Meals"),
        new("How much is the mileage reimbursement for my own car?", ExpensesFile, "Mileage"),
        new("Which class can I book for a long flight?", ExpensesFile, "Flights"),
        new("When must expense claims be submitted?", ExpensesFile, "Claims"),
    ];
}
