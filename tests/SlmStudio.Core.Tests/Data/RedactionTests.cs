using System.Globalization;
using System.Text;
using SlmStudio.Core.Data;
using Xunit.Abstractions;

namespace SlmStudio.Core.Tests.Data;

public sealed class RedactionTests(ITestOutputHelper output)
{
    // These tests measure the number-and-address kinds; names are measured on their own (NameDetectionTests).
    private readonly Redactor _redactor = new(new RedactorOptions { DetectNames = false });

    [Fact]
    public void ReplacesWithTypedPlaceholdersAndReportsWhere()
    {
        var (text, findings) = _redactor.Redact(
            "Mail anna.meier@bank.de, call +49 30 12345678, pay to DE89 3704 0044 0532 0130 00 with card 4111 1111 1111 1111. SSN 078-05-1120.",
            "clients.txt", 7);
        Assert.Equal("Mail [EMAIL], call [PHONE], pay to [IBAN] with card [CARD]. SSN [NATIONAL_ID].", text);
        Assert.Equal([PersonalDataKind.Email, PersonalDataKind.Phone, PersonalDataKind.Iban, PersonalDataKind.PaymentCard, PersonalDataKind.NationalId],
            findings.Select(f => f.Kind));
        Assert.All(findings, f => Assert.Equal(("clients.txt", (int?)7), (f.File, f.Line)));
        Assert.Equal(5, findings[0].Offset);
        Assert.Equal("a***@***.de", findings[0].Masked);
        Assert.Equal("•••• •••• •••• 1111", findings[3].Masked);
        Assert.Equal("DE•• •••• •••• •••• ••30 00", findings[2].Masked);
        Assert.DoesNotContain(findings, f => f.Masked.Contains("12345678") || f.Masked.Contains("0532"));
    }

    [Theory]
    [InlineData("SSN 078-05-1120 on file", "SSN [NATIONAL_ID] on file")]
    [InlineData("His BSN is 123456782.", "His BSN is [NATIONAL_ID].")]
    [InlineData("passport number C01X00T47 expired", "passport number [NATIONAL_ID] expired")]
    [InlineData("National Insurance number QQ 12 34 56 C today", "National Insurance number [NATIONAL_ID] today")]
    [InlineData("NIR: 1 85 05 78 006 084 36 (France)", "NIR: [NATIONAL_ID] (France)")]
    [InlineData("Call 030 1234567\n2024 was a good year", "Call [PHONE]\n2024 was a good year")]
    public void RedactsExactlyTheValue(string input, string expected) =>
        Assert.Equal(expected, _redactor.Redact(input).Text);

    [Fact]
    public void ChecksumsDecide()
    {
        Assert.True(Redactor.IsValidIban("DE89370400440532013000"));
        Assert.False(Redactor.IsValidIban("DE89370400440532013001"));
        Assert.False(Redactor.IsValidIban("DE8937040044053201300"));
        Assert.True(Redactor.LuhnValid("4111111111111111"));
        Assert.False(Redactor.LuhnValid("4111111111111112"));
        Assert.Equal("IBAN DE89 3704 0044 0532 0130 01 is wrong", _redactor.Redact("IBAN DE89 3704 0044 0532 0130 01 is wrong").Text);
        Assert.Equal("card 4111 1111 1111 1112 is wrong", _redactor.Redact("card 4111 1111 1111 1112 is wrong").Text);
    }

    [Fact]
    public void PrecisionAndRecallOnSeededExamples()
    {
        var examples = RedactionTestSet.Generate(new Random(20240601));
        Assert.True(examples.Count >= 200, $"{examples.Count} examples");
        var kinds = Enum.GetValues<PersonalDataKind>().Where(k => k != PersonalDataKind.Name).ToArray();
        var tp = kinds.ToDictionary(k => k, _ => 0);
        var fp = kinds.ToDictionary(k => k, _ => 0);
        var fn = kinds.ToDictionary(k => k, _ => 0);
        var misses = new List<string>();
        int exactSpans = 0;
        foreach (var (text, truths) in examples)
        {
            // Span check: the redacted sentence must be the sentence with exactly the true values replaced.
            var expected = text;
            foreach (var t in truths) expected = expected.Replace(t.Value, Redactor.Placeholder(t.Kind), StringComparison.Ordinal);
            var actual = _redactor.Redact(text).Text;
            if (actual == expected) exactSpans++; else misses.Add($"SPAN '{actual}' expected '{expected}'");

            var found = _redactor.Detect(text);
            foreach (var t in truths)
            {
                var start = text.IndexOf(t.Value, StringComparison.Ordinal);
                Assert.True(start >= 0);
                var hit = found.Any(f => f.Kind == t.Kind && f.Start < start + t.Value.Length && start < f.Start + f.Length);
                if (hit) tp[t.Kind]++; else { fn[t.Kind]++; misses.Add($"MISSED {t.Kind}: {text}"); }
            }
            foreach (var f in found)
            {
                var truth = truths.Any(t =>
                {
                    var start = text.IndexOf(t.Value, StringComparison.Ordinal);
                    return t.Kind == f.Kind && f.Start < start + t.Value.Length && start < f.Start + f.Length;
                });
                if (!truth) { fp[f.Kind]++; misses.Add($"FALSE {f.Kind} '{f.Value}': {text}"); }
            }
        }
        var report = new StringBuilder($"Redaction on {examples.Count} seeded examples ({examples.Sum(e => e.Truths.Count)} true items, {examples.Count(e => e.Truths.Count == 0)} look-alike-only sentences):\n");
        foreach (var k in kinds)
        {
            var precision = tp[k] + fp[k] == 0 ? 1.0 : (double)tp[k] / (tp[k] + fp[k]);
            var recall = tp[k] + fn[k] == 0 ? 1.0 : (double)tp[k] / (tp[k] + fn[k]);
            report.AppendLine(CultureInfo.InvariantCulture, $"  {k,-12} n={tp[k] + fn[k],3}  precision={precision:0.000}  recall={recall:0.000}  (TP {tp[k]}, FP {fp[k]}, FN {fn[k]})");
        }
        report.AppendLine(CultureInfo.InvariantCulture, $"  Redacted sentence exactly as expected (no word too many or too few): {exactSpans} of {examples.Count}");
        foreach (var m in misses) report.AppendLine(m);
        output.WriteLine(report.ToString());
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "redaction-report.txt"), report.ToString());

        foreach (var k in new[] { PersonalDataKind.Email, PersonalDataKind.Phone, PersonalDataKind.Iban, PersonalDataKind.PaymentCard })
        {
            Assert.True((double)tp[k] / (tp[k] + fn[k]) >= 0.95, report.ToString());
            Assert.True(tp[k] + fn[k] >= 30, $"{k}: only {tp[k] + fn[k]} examples");
        }
        Assert.True(exactSpans >= examples.Count * 0.95, report.ToString());
        foreach (var k in kinds)
            Assert.True(tp[k] + fp[k] == 0 || (double)tp[k] / (tp[k] + fp[k]) >= 0.9, report.ToString());
        Assert.True((double)tp[PersonalDataKind.NationalId] / (tp[PersonalDataKind.NationalId] + fn[PersonalDataKind.NationalId]) >= 0.85, report.ToString());
    }
}

/// <summary>
/// Seeded sentences with true personal data of every kind in many layouts, and look-alikes that must be left alone:
/// order and invoice numbers, dates, times, amounts, versions, tracking and postal codes, IBANs and card numbers with
/// a wrong checksum, file names with '@'.
/// </summary>
public static class RedactionTestSet
{
    public sealed record Truth(PersonalDataKind Kind, string Value);

    private static readonly string[] First = ["anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "ines", "jonas", "karin", "liam", "mia", "noah", "olga", "pierre"];
    private static readonly string[] Last = ["meier", "smith", "dupont", "van-dijk", "rossi", "garcia", "o.brien", "schmidt", "jansen", "novak"];
    private static readonly string[] Domains = ["example.com", "bank.de", "mail.co.uk", "hr.acme-corp.com", "posteo.net", "gmx.at", "company.io", "uni-heidelberg.de", "example.org"];

    public static List<(string Text, List<Truth> Truths)> Generate(Random r)
    {
        var list = new List<(string, List<Truth>)>();
        T Pick<T>(T[] a) => a[r.Next(a.Length)];
        string Digits(int n) => new([.. Enumerable.Range(0, n).Select(_ => (char)('0' + r.Next(10)))]);
        void Add(string template, params Truth[] truths)
        {
            var text = template;
            for (int i = 0; i < truths.Length; i++) text = text.Replace("{" + i + "}", truths[i].Value, StringComparison.Ordinal);
            list.Add((text, [.. truths]));
        }

        // E-mail addresses.
        string[] emailTemplates = ["Please write to {0} for details.", "Contact: {0}", "Sent by {0} on Monday", "(reply to {0})", "<{0}>", "cc {0}, thanks", "Her address is {0}."];
        for (int i = 0; i < 45; i++)
        {
            var local = (i % 5) switch
            {
                0 => $"{Pick(First)}.{Pick(Last)}",
                1 => $"{Pick(First)}{r.Next(1, 99)}",
                2 => $"{Pick(First)[0]}.{Pick(Last)}+news",
                3 => $"{Pick(First)}_{Pick(Last)}".ToUpperInvariant(),
                _ => Pick(First),
            };
            Add(Pick(emailTemplates), new Truth(PersonalDataKind.Email, $"{local}@{Pick(Domains)}"));
        }

        // Phone numbers: international and national layouts, with and without a word such as "phone".
        Func<string>[] phones =
        [
            () => $"+49 30 {Digits(8)}", () => $"030 {r.Next(2, 10)}{Digits(7)}", () => $"+49 171 {Digits(7)}", () => $"0171 {Digits(7)}",
            () => $"+44 20 7{Digits(3)} {Digits(4)}", () => $"020 7{Digits(3)} {Digits(4)}", () => $"07911 {r.Next(1, 10)}{Digits(5)}",
            () => $"+33 1 {r.Next(10, 99)} {r.Next(10, 99)} {r.Next(10, 99)} {r.Next(10, 99)}", () => $"06 {r.Next(10, 99)} {r.Next(10, 99)} {r.Next(10, 99)} {r.Next(10, 99)}",
            () => $"+31 20 {r.Next(200, 999)} {Digits(4)}", () => $"06-{r.Next(1, 10)}{Digits(7)}",
            () => $"(212) {r.Next(200, 999)}-{Digits(4)}", () => $"415-{r.Next(200, 999)}-{Digits(4)}", () => $"646.{r.Next(200, 999)}.{Digits(4)}",
            () => $"+1 312 {r.Next(200, 999)} {Digits(4)}", () => $"+44 (0)20 7{Digits(3)} {Digits(4)}", () => $"030/{r.Next(2, 10)}{Digits(6)}",
            () => $"+49 (0) 171 {Digits(7)}", () => $"1-800-{r.Next(200, 999)}-{Digits(4)}", () => $"212 {r.Next(200, 999)} {Digits(4)}",
            () => $"+1-646-{r.Next(200, 999)}-{Digits(4)}", () => $"0049 89 {r.Next(2, 10)}{Digits(6)}", () => $"+41 44 {r.Next(200, 999)} {Digits(2)} {Digits(2)}", () => $"0041 44 {r.Next(200, 999)} {Digits(2)} {Digits(2)}",
        ];
        string[] phoneTemplates = ["Call us at {0}.", "Phone: {0}", "Tel. {0} (mornings)", "mobile {0}", "Reach Sara on {0} after 5pm.", "Our office, {0}, is closed.", "Best regards, Tom - {0}", "Fax {0}"];
        for (int i = 0; i < 72; i++)
            Add(Pick(phoneTemplates), new Truth(PersonalDataKind.Phone, phones[i % phones.Length]()));

        // IBANs, valid checksums, compact and in groups of four.
        (string Cc, Func<string> Bban)[] ibans =
        [
            ("DE", () => Digits(18)), ("GB", () => "NWBK" + Digits(14)), ("FR", () => Digits(10) + "0" + Digits(10) + Digits(2)),
            ("NL", () => "ABNA" + Digits(10)), ("ES", () => Digits(20)), ("IT", () => "X" + Digits(22)), ("BE", () => Digits(12)),
            ("CH", () => Digits(17)), ("AT", () => Digits(16)), ("PL", () => Digits(24)),
        ];
        string[] ibanTemplates = ["Please transfer to {0} by Friday.", "IBAN: {0}", "Account {0}, BIC COBADEFFXXX", "Refund to {0}."];
        for (int i = 0; i < 40; i++)
        {
            var (cc, bban) = ibans[i % ibans.Length];
            var iban = MakeIban(cc, bban());
            Add(Pick(ibanTemplates), new Truth(PersonalDataKind.Iban, i % 2 == 0 ? Group(iban, 4, ' ') : iban));
        }

        // Payment cards: Visa, Mastercard, Amex, Discover; Luhn-valid; plain, spaced, dashed.
        string[] cardTemplates = ["Card number {0}, exp 09/27", "charged to {0} yesterday", "Visa {0}", "Pay with {0}.", "CC: {0}"];
        for (int i = 0; i < 40; i++)
        {
            var (prefix, length) = (i % 4) switch { 0 => ("4", 16), 1 => ($"5{r.Next(1, 6)}", 16), 2 => (r.Next(2) == 0 ? "34" : "37", 15), _ => ("6011", 16) };
            var number = Luhn(prefix + Digits(length - prefix.Length - 1));
            var shown = (i % 3, length) switch
            {
                (0, _) => number,
                (_, 15) => $"{number[..4]} {number[4..10]} {number[10..]}",
                (1, _) => Group(number, 4, ' '),
                _ => Group(number, 4, '-'),
            };
            Add(Pick(cardTemplates), new Truth(PersonalDataKind.PaymentCard, shown));
        }

        // National ID numbers.
        string[] idTemplates = ["SSN {0} on file", "Social security number: {0}.", "National Insurance number {0}", "passport number {0} expired", "His BSN is {0}."];
        for (int i = 0; i < 25; i++)
        {
            var value = (i % 4) switch
            {
                0 => $"{r.Next(100, 665):000}-{r.Next(10, 99)}-{r.Next(1000, 9999)}",
                1 => $"{(char)('A' + r.Next(0, 3))}{(char)('A' + r.Next(0, 3))} {Digits(2)} {Digits(2)} {Digits(2)} {(char)('A' + r.Next(4))}",
                2 => $"{(char)('C' + r.Next(0, 5))}{Digits(8)}",
                _ => Digits(9),
            };
            var template = (i % 4) switch { 0 => idTemplates[r.Next(2)], 1 => idTemplates[2], 2 => idTemplates[3], _ => idTemplates[4] };
            Add(template, new Truth(PersonalDataKind.NationalId, value));
        }

        // Sentences with several kinds at once.
        for (int i = 0; i < 10; i++)
        {
            var email = new Truth(PersonalDataKind.Email, $"{Pick(First)}@{Pick(Domains)}");
            var phone = new Truth(PersonalDataKind.Phone, $"+49 30 {Digits(8)}");
            var iban = new Truth(PersonalDataKind.Iban, Group(MakeIban("DE", Digits(18)), 4, ' '));
            Add("Customer {0} (phone {1}) asked us to use {2}.", email, phone, iban);
        }

        // Look-alikes: nothing here is personal data.
        Func<string>[] lookAlikes =
        [
            () => $"Order #{Digits(10)} has shipped.", () => $"Your order number {r.Next(1, 10)}{Digits(9)} is confirmed.",
            () => $"Invoice INV-2024-{Digits(6)} is due.", () => $"Invoice {r.Next(2019, 2026)}/{Digits(5)} paid.",
            () => $"Meeting on {r.Next(2019, 2026)}-{r.Next(1, 13):00}-{r.Next(1, 29):00} at {r.Next(8, 18)}:{r.Next(0, 60):00}.",
            () => $"Signed {r.Next(1, 29):00}.{r.Next(1, 13):00}.{r.Next(2019, 2026)} in Berlin.", () => $"Due {r.Next(1, 13):00}/{r.Next(1, 29):00}/{r.Next(2019, 2026)}.",
            () => $"Revenue grew to EUR {r.Next(1, 999)},{Digits(3)},{Digits(3)}.{Digits(2)}.", () => $"Total: {r.Next(1, 99)}.{Digits(3)}.{Digits(3)},{Digits(2)} €",
            () => $"Update to version {r.Next(1, 20)}.{r.Next(0, 9)}.{Digits(5)}.{r.Next(1, 9)}.", () => $"Tracking 1Z{Digits(3)}AA1{Digits(10)}",
            () => $"Parcel {Digits(4)} {Digits(4)} {Digits(4)} {Digits(4)} {Digits(4)} {Digits(2)} is on its way.",
            () => $"Send it to 10115 Berlin or SW1A 1AA London.", () => $"ISBN 978-3-{Digits(2)}-{Digits(6)}-{r.Next(10)}",
            () => "See icon@2x.png and logo@3x.jpg in the assets folder.", () => "Ping @channel or email support at example dot com.",
            () => $"The city has {r.Next(1, 9)} {Digits(3)} {Digits(3)} inhabitants.", () => $"Pages {r.Next(10, 99)}-{r.Next(100, 199)} of the manual.",
            () => $"Coordinates {r.Next(10, 80)}.{Digits(4)}, {r.Next(10, 80)}.{Digits(4)}.", () => $"Customer ID {Digits(10)} was merged.",
            () => $"Part {r.Next(200, 999)}-{r.Next(200, 999)}-{Digits(4)} is out of stock.", () => $"Reference {Digits(12)} for your claim.",
            () => BadLuhnCard(r), () => $"Wrong IBAN {BadIban(r)} was rejected.", () => $"Serial number {Digits(4)}-{Digits(4)}-{Digits(4)}-{Digits(4)} registered.",
            () => $"Ticket 030 {Digits(4)} {Digits(4)} was closed.", () => $"Price list 2024 - 2025, valid from 01 04 2024.",
            () => $"USD {r.Next(1, 9)} {Digits(3)} {Digits(3)} in deposits.", () => $"Sort code 20-{Digits(2)}-{Digits(2)}, branch {Digits(4)}.",
            () => $"Between {r.Next(1990, 2005)} and {r.Next(2006, 2025)} the bank grew {r.Next(2, 9)}%.", () => $"Office hours 09:00-17:30, room {r.Next(100, 999)}.",
        ];
        for (int i = 0; i < 124; i++) list.Add((lookAlikes[i % lookAlikes.Length](), []));
        return list;
    }

    public static string MakeIban(string cc, string bban)
    {
        var numeric = new StringBuilder();
        foreach (var c in bban + cc + "00") numeric.Append(char.IsAsciiDigit(c) ? c.ToString() : (c - 'A' + 10).ToString(CultureInfo.InvariantCulture));
        int mod = 0;
        foreach (var c in numeric.ToString()) mod = (mod * 10 + (c - '0')) % 97;
        return $"{cc}{98 - mod:00}{bban}";
    }

    public static string Luhn(string withoutCheck)
    {
        for (int d = 0; d <= 9; d++)
            if (Redactor.LuhnValid(withoutCheck + d)) return withoutCheck + d;
        throw new InvalidOperationException();
    }

    private static string Group(string s, int size, char sep) =>
        string.Join(sep, Enumerable.Range(0, (s.Length + size - 1) / size).Select(i => s.Substring(i * size, Math.Min(size, s.Length - i * size))));

    private static string BadLuhnCard(Random r)
    {
        var good = Luhn("4" + string.Concat(Enumerable.Range(0, 14).Select(_ => r.Next(10))));
        var bad = good[..^1] + (char)('0' + (good[^1] - '0' + 1) % 10);
        return $"Card {Group(bad, 4, ' ')} was declined as invalid.";
    }

    private static string BadIban(Random r)
    {
        var good = MakeIban("DE", string.Concat(Enumerable.Range(0, 18).Select(_ => r.Next(10))));
        return Group(good[..^1] + (char)('0' + (good[^1] - '0' + 3) % 10), 4, ' ');
    }
}

/// <summary>
/// Hand-written sentences in the style of support tickets, HR letters and bank notes, written after the detector and
/// not used to tune it; the figures are reported as they come out (see the test output).
/// </summary>
public sealed class RedactionHeldOutTests(ITestOutputHelper output)
{
    private static readonly (string Text, (PersonalDataKind Kind, string Value)[] Truths)[] Sentences =
    [
        ("Hi, I'm Laura (laura.bianchi@fastmail.it), my card ending 4242 was charged twice.", [(PersonalDataKind.Email, "laura.bianchi@fastmail.it")]),
        ("Please refund EUR 49.90 to IBAN IT60 X054 2811 1010 0000 0123 456.", [(PersonalDataKind.Iban, "IT60 X054 2811 1010 0000 0123 456")]),
        ("Mobile: 0151 23456789 (after 6 pm please)", [(PersonalDataKind.Phone, "0151 23456789")]),
        ("You can reach our HR desk on +44 161 496 0000 or hr-desk@northwind.co.uk.", [(PersonalDataKind.Phone, "+44 161 496 0000"), (PersonalDataKind.Email, "hr-desk@northwind.co.uk")]),
        ("Card 5555 5555 5555 4444 expired on 03/25.", [(PersonalDataKind.PaymentCard, "5555 5555 5555 4444")]),
        ("Amex 3782 822463 10005 was declined at the hotel.", [(PersonalDataKind.PaymentCard, "3782 822463 10005")]),
        ("Employee SSN: 219-09-9999, start date 2023-04-01.", [(PersonalDataKind.NationalId, "219-09-9999")]),
        ("Salary goes to NL91ABNA0417164300 from May.", [(PersonalDataKind.Iban, "NL91ABNA0417164300")]),
        ("Tel +33 (0)1 44 55 66 77, fax +33 (0)1 44 55 66 78", [(PersonalDataKind.Phone, "+33 (0)1 44 55 66 77"), (PersonalDataKind.Phone, "+33 (0)1 44 55 66 78")]),
        ("For urgent matters ring 020 7123 4567.", [(PersonalDataKind.Phone, "020 7123 4567")]),
        ("Our US office: (415) 555-2671.", [(PersonalDataKind.Phone, "(415) 555-2671")]),
        ("Reply-To: Max Mustermann <max.mustermann@t-online.de>", [(PersonalDataKind.Email, "max.mustermann@t-online.de")]),
        ("GB82 WEST 1234 5698 7654 32 is the account for the deposit.", [(PersonalDataKind.Iban, "GB82 WEST 1234 5698 7654 32")]),
        ("visa 4012888888881881 exp 12/26 cvv 123", [(PersonalDataKind.PaymentCard, "4012888888881881")]),
        ("Whatsapp me: +31 6 12345678", [(PersonalDataKind.Phone, "+31 6 12345678")]),
        ("NI number AB123456C on the payslip", [(PersonalDataKind.NationalId, "AB123456C")]),
        ("Kontakt: Tel. 089 / 12 34 56 78", [(PersonalDataKind.Phone, "089 / 12 34 56 78")]),
        ("I called 212.555.0199 but nobody answered.", [(PersonalDataKind.Phone, "212.555.0199")]),
        ("The customer's BSN is 111222333.", [(PersonalDataKind.NationalId, "111222333")]),
        ("Send the contract to legal@contoso.com and j.doe@contoso.com.", [(PersonalDataKind.Email, "legal@contoso.com"), (PersonalDataKind.Email, "j.doe@contoso.com")]),
        // Look-alikes only.
        ("Order 112-3456789-1234567 was delivered on 12.03.2024.", []),
        ("The loan of 250000 EUR runs for 240 months at 3.45%.", []),
        ("Ticket #20240315-0042 was escalated to level 2.", []),
        ("Release 2024.03.15 fixes bug 4111 and 1111.", []),
        ("Our turnover was 1 234 567 890 EUR in 2023.", []),
        ("Call center KPI: 95% of calls answered in 20 s.", []),
        ("Policy no. 0012-3456-7890-1234 renews on 1 July.", []),
        ("Use promo code SPRING2024 before 31/05/2024.", []),
        ("The IBAN field must have 22 characters, e.g. DE00 0000 0000 0000 0000 00.", []),
        ("Batch 7700 900 123 shipped from warehouse 12.", []),
        ("Room 4.012, building B, 2nd floor.", []),
        ("Version 10.0.22631.3296 of the client is required.", []),
        ("PO 4500012345 approved by finance.", []),
        ("Meet at 14:30-15:45 on 2024-06-01 in Zurich 8001.", []),
        ("Contact us via the form at example.com/contact.", []),
    ];

    [Fact]
    public void ReportsFiguresOnHandWrittenSentences()
    {
        var redactor = new Redactor(new RedactorOptions { DetectNames = false });
        int tp = 0, fn = 0, fp = 0;
        var notes = new StringBuilder();
        foreach (var (text, truths) in Sentences)
        {
            var found = redactor.Detect(text);
            notes.AppendLine($"  {redactor.Redact(text).Text}");
            foreach (var t in truths)
            {
                var start = text.IndexOf(t.Value, StringComparison.Ordinal);
                Assert.True(start >= 0, t.Value);
                if (found.Any(f => f.Kind == t.Kind && f.Start < start + t.Value.Length && start < f.Start + f.Length)) tp++;
                else { fn++; notes.AppendLine($"MISSED {t.Kind} '{t.Value}': {text}"); }
            }
            foreach (var f in found)
                if (!truths.Any(t => { var s = text.IndexOf(t.Value, StringComparison.Ordinal); return t.Kind == f.Kind && f.Start < s + t.Value.Length && s < f.Start + f.Length; }))
                { fp++; notes.AppendLine($"FALSE {f.Kind} '{f.Value}': {text}"); }
        }
        var precision = (double)tp / Math.Max(1, tp + fp);
        var recall = (double)tp / Math.Max(1, tp + fn);
        var report = $"Held-out hand-written sentences: {Sentences.Length} ({tp + fn} true items): precision={precision:0.000} recall={recall:0.000} (TP {tp}, FP {fp}, FN {fn})\n{notes}";
        output.WriteLine(report);
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "redaction-heldout-report.txt"), report);
        Assert.True(recall >= 0.8 && precision >= 0.8, report);
    }
}
