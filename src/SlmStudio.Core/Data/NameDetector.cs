using System.Text.RegularExpressions;

namespace SlmStudio.Core.Data;

/// <summary>
/// Finds people's names in running text. No maintained NuGet package ships given-name lists, so a curated list of
/// common given names in the languages of typical HR and support documents (first-names.txt, embedded) is combined
/// with context: titles ("Mr", "Dr."), greetings ("Dear X", "Hi X"), sign-offs ("Regards,\nX Y") and words that
/// introduce a person ("contact X", "ask X", "cc:"). A listed name counts on its own; a name that is also an ordinary
/// word (May, Will, Bill, Grace) counts only with a surname after it or such context before it; an unlisted word
/// counts only after a title, greeting or sign-off. Surnames are the capitalised words that follow (with particles
/// such as "van", "de", "von"), never words like "Street", "Pay" or "Insurance" that make the phrase a place, product
/// or department.
/// </summary>
public static class NameDetector
{
    private static readonly (HashSet<string> Plain, HashSet<string> Ambiguous) Names = LoadNames();

    private static readonly HashSet<string> Titles = new(StringComparer.OrdinalIgnoreCase)
    { "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "herr", "frau", "mme", "mlle", "sr", "sra", "dott", "ing" };

    private static readonly HashSet<string> Greetings = new(StringComparer.OrdinalIgnoreCase)
    { "dear", "hi", "hello", "hey", "hallo", "liebe", "lieber", "bonjour", "hola", "ciao", "beste", "thanks", "thank", "cheers" };

    private static readonly HashSet<string> IntroducingWords = new(StringComparer.OrdinalIgnoreCase)
    { "contact", "ask", "cc", "attn", "attention", "colleague", "manager", "welcome", "signed", "approved" };

    // Matched against a trimmed line of at most MaxSignOffLength characters: with leading and trailing "\s*" in the
    // pattern, a long run of spaces after "Regards" made the search quadratic.
    private static readonly Regex SignOffLine = new(
        @"^(?:(?:kind|best|warm|warmest|many|with)\s+)?(?:regards|wishes|thanks|thank you|cheers|sincerely|best|yours(?:\s+(?:sincerely|truly|faithfully))?|mit freundlichen grüßen|viele grüße|liebe grüße|cordialement|bien à vous|saludos|un saluto|met vriendelijke groet(?:en)?|groeten)\s*[,.!]?$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(Redactor.DefaultMatchTimeoutSeconds));

    /// <summary>The longest sign-off line ("Met vriendelijke groeten,") with room to spare.</summary>
    private const int MaxSignOffLength = 40;

    /// <summary>Capitalised words after a name that make the phrase something other than a person.</summary>
    private static readonly HashSet<string> NotSurnames = new(StringComparer.OrdinalIgnoreCase)
    {
        "street", "st", "road", "rd", "avenue", "ave", "lane", "drive", "square", "station", "state", "city", "county", "park", "bridge", "river", "lake",
        "bank", "pay", "group", "inc", "ltd", "llc", "gmbh", "ag", "plc", "university", "college", "school", "hospital", "hotel", "airport", "foundation",
        "award", "prize", "insurance", "service", "services", "team", "department", "office", "centre", "center", "building", "house", "hall", "day",
        "payment", "payments", "policy", "plan", "card", "account", "portal", "app", "gold", "hours", "holiday", "holidays", "the", "and", "or",
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "i", "ii", "iii",
    };

    private static readonly HashSet<string> Particles = new(StringComparer.Ordinal)
    { "van", "von", "de", "der", "den", "da", "di", "del", "della", "du", "des", "dos", "das", "la", "le", "ter", "ten", "al", "el", "bin", "ben", "zu" };

    // One character class loop: linear, nothing to backtrack into. The limit is the redactor's, not a tighter one, so
    // that a loaded machine never stops ordinary text here (see Redactor.DefaultMatchTimeout).
    private static readonly Regex Word = new(@"\p{L}[\p{L}\p{M}'’-]*", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(Redactor.DefaultMatchTimeoutSeconds));

    private readonly record struct Token(int Start, int Length, string Text)
    {
        public int End => Start + Length;
    }

    /// <summary>Spans (start, length) of the names in <paramref name="text"/>, in order.</summary>
    public static List<(int Start, int Length)> Find(string text)
    {
        var tokens = new List<Token>();
        foreach (Match m in Word.Matches(text))
        {
            var length = m.Length;
            // "Maria's" is Maria: the possessive is not part of the name.
            if (length > 2 && (m.Value.EndsWith("'s", StringComparison.Ordinal) || m.Value.EndsWith("’s", StringComparison.Ordinal))) length -= 2;
            tokens.Add(new Token(m.Index, length, text.Substring(m.Index, length).TrimEnd('-', '\'', '’')));
        }
        var found = new List<(int, int)>();
        for (int i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (!IsCapitalised(token.Text) || Titles.Contains(token.Text)) continue;
            var last = Extend(text, tokens, i);
            var hasSurname = last > i;
            var key = token.Text;
            var plain = Names.Plain.Contains(key) && !Names.Ambiguous.Contains(key);
            var ambiguous = Names.Ambiguous.Contains(key);
            var context = Context(text, tokens, i);
            // A listed name followed straight by "Street", "Bank", "Station"... is a place or company named after someone.
            var followedByNotSurname = i + 1 < tokens.Count && OnlySpaceBetween(text, token.End, tokens[i + 1].Start)
                && IsCapitalised(tokens[i + 1].Text) && NotSurnames.Contains(tokens[i + 1].Text);
            bool accept = context is NameContext.Strong
                || !followedByNotSurname && (plain || ambiguous && (hasSurname || context is NameContext.Introduced));
            if (!accept) continue;
            found.Add((token.Start, tokens[last].End - token.Start));
            i = last;
        }
        return found;
    }

    private enum NameContext { None, Introduced, Strong }

    private static NameContext Context(string text, List<Token> tokens, int i)
    {
        var start = tokens[i].Start;
        // A sign-off on the line above ("Kind regards,") and this word opening its line.
        var lineStart = text.LastIndexOf('\n', Math.Max(0, start - 1));
        if (lineStart >= 0 && text.AsSpan(lineStart + 1, start - lineStart - 1).Trim().Length == 0)
        {
            var previousStart = lineStart == 0 ? 0 : text.LastIndexOf('\n', lineStart - 1) + 1;
            var previousLine = text.AsSpan(previousStart, lineStart - previousStart).Trim();
            if (previousLine.Length <= MaxSignOffLength && SignOffLine.IsMatch(previousLine)) return NameContext.Strong;
        }
        if (i == 0) return NameContext.None;
        var previous = tokens[i - 1];
        var gap = text.AsSpan(previous.End, start - previous.End);
        if (gap.Contains('\n')) return NameContext.None;
        var gapText = gap.ToString().Trim();
        if (Titles.Contains(previous.Text) && gapText is "" or ".") return NameContext.Strong;
        // "Dear Thomas", "Hi Priya", "Thanks, Olivia", "Thank you, Nadia", "Dear Mr Schneider" (the title is skipped).
        var greeting = previous.Text.Equals("you", StringComparison.OrdinalIgnoreCase) && i >= 2 && tokens[i - 2].Text.Equals("thank", StringComparison.OrdinalIgnoreCase)
            || Greetings.Contains(previous.Text);
        if (greeting && gapText is "" or ",") return NameContext.Strong;
        if (IntroducingWords.Contains(previous.Text) && gapText is "" or ":" or ",") return NameContext.Introduced;
        return NameContext.None;
    }

    /// <summary>The index of the last token of the name starting at <paramref name="i"/>: surnames and particles on the same line.</summary>
    private static int Extend(string text, List<Token> tokens, int i)
    {
        int last = i;
        for (int j = i + 1; j < tokens.Count && j <= i + 4; j++)
        {
            if (!OnlySpaceBetween(text, tokens[j - 1].End, tokens[j].Start)) break;
            var t = tokens[j].Text;
            if (Particles.Contains(t)) continue;   // kept only when a surname follows
            if (!IsCapitalised(t) || NotSurnames.Contains(t) || Titles.Contains(t)) break;
            last = j;
        }
        return last;
    }

    private static bool OnlySpaceBetween(string text, int from, int to)
    {
        if (to - from is < 1 or > 2) return false;
        for (int k = from; k < to; k++) if (text[k] is not ' ') return false;
        return true;
    }

    /// <summary>Upper-case first letter and some lower-case after it ("Maria", "O'Connor"); not "HR", not "maria".</summary>
    private static bool IsCapitalised(string word) =>
        word.Length >= 2 && char.IsUpper(word[0]) && word.Skip(1).Any(char.IsLower);

    private static (HashSet<string>, HashSet<string>) LoadNames()
    {
        using var stream = typeof(NameDetector).Assembly.GetManifestResourceStream("SlmStudio.Core.first-names.txt")
            ?? throw new InvalidOperationException("The list of first names is missing from the engine.");
        using var reader = new StreamReader(stream);
        var plain = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var ambiguous = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var target = plain;
        while (reader.ReadLine() is { } line)
        {
            if (line.StartsWith('#'))
            {
                // The second comment block starts the names that are also ordinary words.
                if (plain.Count > 0) target = ambiguous;
                continue;
            }
            foreach (var name in line.Split(' ', StringSplitOptions.RemoveEmptyEntries)) target.Add(name);
        }
        return (plain, ambiguous);
    }
}
