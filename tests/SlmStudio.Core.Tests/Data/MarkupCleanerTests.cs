using SlmStudio.Core.Data;

namespace SlmStudio.Core.Tests.Data;

/// <summary>Issue 12: Markdown and HTML become clean prose; what the extractor returns is what "Show text" shows.</summary>
public sealed class MarkupCleanerTests
{
    private static ExtractedDocument Extract(string path, string name) =>
        DocumentExtractor.Extract(path, name, null, DataLimits.Default, CancellationToken.None);

    private const string Handbook = """
        # Employee handbook

        ## Benefits &amp; insurance

        Our **dental** and _vision_ plans are described on the [benefits portal](https://intranet.example.com/benefits "Benefits").
        See also <https://example.com/faq> and ![the office map](map.png).

        | Plan   | Employer pays | Waiting period |
        |--------|--------------:|----------------|
        | Dental | 80%           | 3 months       |
        | Vision | *70%*         | none           |

        * Submit claims within **90 days**
        * Keep receipts
          1. Scan them
          2. Upload them to `expenses`

        > Questions? Ask ~~Tom~~ the HR team.

        ```bash
        ./submit-claim --plan dental
        ```

        <div class="note">Holidays are <b>25 days</b> &ndash; plus public holidays.</div>

        ---
        [ref]: https://example.com
        """;

    [Fact]
    public void MarkdownHeadingsListsTablesLinksAndCodeBecomePlainText()
    {
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("h.md", Handbook), "handbook.md");
        Assert.True(doc.IsUsable, string.Join("; ", doc.Problems.Select(p => p.Message)));
        Assert.Equal(
        [
            "Employee handbook",
            "Benefits & insurance",
            "Our dental and vision plans are described on the benefits portal. See also https://example.com/faq and the office map.",
            "Plan: Dental; Employer pays: 80%; Waiting period: 3 months\nPlan: Vision; Employer pays: 70%; Waiting period: none",
            "Submit claims within 90 days\nKeep receipts\nScan them\nUpload them to expenses",
            "Questions? Ask Tom the HR team.",
            "./submit-claim --plan dental",
            "Holidays are 25 days – plus public holidays.",
        ], doc.Records.Select(r => r.Text));
        Assert.Equal([1, 3, 5, 8, 13, 18, 20], doc.Records.Take(7).Select(r => r.Line));

        // Nothing of the markup survives into the training text or the "Show text" preview.
        var all = doc.Preview(100_000);
        foreach (var syntax in new[] { "#", "|", "**", "_vision_", "](", "![", "<div", "<b>", "&amp;", "&ndash;", "```", "---", "~~", "intranet.example.com" })
            Assert.DoesNotContain(syntax, all);
    }

    [Fact]
    public void HtmlTablesBecomeRowsOfNamedValues()
    {
        const string html = """
            <html><body>
            <h2>Insurance plans</h2>
            <table>
              <thead><tr><th>Plan</th><th>Employer pays</th></tr></thead>
              <tbody>
                <tr><td>Dental &amp; orthodontics</td><td><b>80%</b></td></tr>
                <tr><td>Vision</td><td>70%<span hidden>secret</span></td></tr>
              </tbody>
            </table>
            <ul><li>First item</li><li>Second <a href="https://x.example">item</a></li></ul>
            </body></html>
            """;
        using var dir = new TempFolder();
        var doc = Extract(dir.Write("p.html", html), "plans.html");
        Assert.Equal(
        [
            "Insurance plans",
            "Plan: Dental & orthodontics; Employer pays: 80%\nPlan: Vision; Employer pays: 70%",
            "First item",
            "Second item",
        ], doc.Records.Select(r => r.Text));
    }

    [Fact]
    public void TablesWithoutAHeaderRowAreJoinedBySemicolons() =>
        Assert.Equal("Mon; 9-17\nSat; closed", MarkupCleaner.TableText([["Mon", "9-17"], ["Sat", " closed "]], firstRowIsHeader: false));
}
