using System.Text;
using System.Text.RegularExpressions;
using SlmStudio.Core.Data;

namespace SlmStudio.Core.Tests.Data;

/// <summary>Issue 14: one very long line (a 40 MB line aborted `slm prepare` with a RegexMatchTimeoutException).</summary>
public sealed class RedactionLongLineTests
{
    /// <summary>
    /// A single line of a few MB with e-mail addresses and phone numbers. Two addresses sit where windows end: one
    /// near a space (the window border moves back to it), one inside 600 characters without any space, so the border
    /// cuts straight through the address.
    /// </summary>
    private static (string Text, List<int> EmailStarts, int Phones) LongLine(int characters)
    {
        var random = new Random(14);
        var words = new[] { "policy", "the", "employee", "holiday", "approved", "request", "yearly", "team", "budget", "review" };
        var sb = new StringBuilder(characters + 200);
        var emailStarts = new List<int>();
        int phones = 0;
        bool cutDone = false, spaceDone = false;
        while (sb.Length < characters)
        {
            if (!cutDone && sb.Length >= Redactor.ChunkCharacters - 400)
            {
                while (sb.Length < Redactor.ChunkCharacters - 12) sb.Append("ab;");
                emailStarts.Add(sb.Length);
                sb.Append("someone.long.name@example.com");
                for (int i = 0; i < 100; i++) sb.Append(";ab");
                sb.Append(' ');
                cutDone = true;
            }
            else if (!spaceDone && sb.Length >= 2 * Redactor.ChunkCharacters - 8 || random.Next(400) == 0)
            {
                spaceDone |= sb.Length >= 2 * Redactor.ChunkCharacters - 8;
                emailStarts.Add(sb.Length);
                sb.Append("someone.long.name@example.com phone +49 30 12345678 ");
                phones++;
            }
            sb.Append(words[random.Next(words.Length)]).Append(' ');
        }
        return (sb.ToString(), emailStarts, phones);
    }

    [Fact]
    public void AVeryLongSingleLineIsRedactedWholeAcrossWindowBorders()
    {
        var (text, emailStarts, phones) = LongLine(3 * 1024 * 1024);
        Assert.DoesNotContain('\n', text);
        var result = new Redactor().Redact(text, "dump.txt", 1);
        var emails = result.Findings.Where(f => f.Kind == PersonalDataKind.Email).ToList();
        Assert.Equal(emailStarts, emails.Select(e => e.Offset));
        Assert.Equal(phones, result.Findings.Count(f => f.Kind == PersonalDataKind.Phone));
        Assert.DoesNotContain("@example.com", result.Text);
        Assert.DoesNotContain("12345678", result.Text);
        Assert.DoesNotContain("example.com", result.Text);   // no tail of an address left behind at a border
        Assert.Equal(phones, Regex.Count(result.Text, Regex.Escape("[EMAIL] phone [PHONE] ")));
        Assert.Contains("ab;[EMAIL];ab", result.Text);
    }

    [Fact]
    public void ARegexTimeoutBecomesAnEngineErrorNamingTheFile()
    {
        // A time limit of one tick: a search over a window of this text cannot finish inside it, so the patterns time
        // out. The point is what the caller sees: never the raw RegexMatchTimeoutException, always a plain message
        // naming the file.
        var (text, _, _) = LongLine(2 * 1024 * 1024);
        var redactor = new Redactor(new RedactorOptions { MatchTimeout = TimeSpan.FromTicks(1) });
        var error = Assert.Throws<EngineException>(() => redactor.Redact(text, "export-2024.csv", 3));
        Assert.Contains("'export-2024.csv'", error.Message);
        Assert.Contains("took too long", error.Message);
        Assert.IsType<RegexMatchTimeoutException>(error.InnerException);
        Assert.Throws<EngineException>(() => redactor.Detect(text));
    }
}
