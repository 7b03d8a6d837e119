using SlmStudio.Core.Data;
using SlmStudio.Core.Retrieval;
using SlmStudio.Core.Tests.Data;

namespace SlmStudio.Core.Tests.Retrieval;

public sealed class PassageSplitterTests : IDisposable
{
    private readonly TempFolder folder = new();
    private readonly IReadOnlyList<Passage> passages;

    public PassageSplitterTests()
    {
        var documents = HandbookCorpus.Extract(folder);
        Assert.All(documents, d => Assert.True(d.IsUsable, $"{d.OriginalName}: {string.Join("; ", d.Problems.Select(p => p.Message))}"));
        passages = PassageSplitter.SplitAll(documents);
    }

    public void Dispose() => folder.Dispose();

    private IEnumerable<Passage> Of(string file) => passages.Where(p => p.File == file);

    [Fact]
    public void Markdown_headings_become_the_heading_path_and_markup_never_reaches_the_text()
    {
        var md = Of("handbook.md").ToList();
        Assert.NotEmpty(md);
        foreach (var p in md)
        {
            foreach (var markup in new[] { "#", "|", "**", "](", "`", "*" })
                Assert.DoesNotContain(markup, p.Text);
            Assert.All(p.HeadingPath, h => Assert.DoesNotContain("#", h));
        }
        var annual = Assert.Single(md, p => p.Heading == "Employee Handbook › Leave › Annual leave");
        Assert.Contains("28 days of paid holiday", annual.Text);
        Assert.Contains("carry over up to 5 unused days", annual.Text);
        Assert.Equal(["Employee Handbook", "Working hours"], Assert.Single(md, p => p.Text.StartsWith("Our core hours")).HeadingPath);
        // The link keeps its words and loses its address.
        Assert.Contains("Read the full policies on the intranet.", md[0].Text);
        Assert.DoesNotContain("https://", md[0].Text);
        Assert.All(md, p => Assert.NotNull(p.Line));
        Assert.Equal($"handbook.md#{md.Count}", md[^1].Id);
    }

    [Fact]
    public void A_markdown_table_gives_one_passage_per_row_with_its_column_names()
    {
        var rows = Of("handbook.md").Where(p => p.Row is not null).ToList();
        Assert.Equal(3, rows.Count);
        var parental = rows[0];
        Assert.Equal("Leave type: Parental leave; Days per year: 20 paid days; Approved by: HR", parental.Text);
        Assert.Equal(2, parental.Row);
        Assert.Equal(["Employee Handbook", "Leave", "Leave types at a glance"], parental.HeadingPath);
        Assert.Equal([2, 3, 4], rows.Select(r => r.Row!.Value));
    }

    [Fact]
    public void Html_headings_and_table_rows_are_kept_as_clean_text()
    {
        var html = Of("it-security.html").ToList();
        Assert.All(html, p => Assert.DoesNotContain("<", p.Text));
        Assert.All(html, p => Assert.DoesNotContain("|", p.Text));
        Assert.Contains("at least 14 characters", Assert.Single(html, p => p.Heading == "IT Security Guidelines › Passwords").Text);
        var dropbox = Assert.Single(html, p => p.Text.Contains("Dropbox"));
        Assert.Equal("Software: Dropbox; Allowed: No; Note: Use the company file share instead", dropbox.Text);
        Assert.Equal(2, dropbox.Row);
        Assert.Equal("IT Security Guidelines › Approved software", dropbox.Heading);
    }

    [Fact]
    public void Pdf_passages_keep_their_page_and_csv_passages_their_row()
    {
        var pdf = Of("safety.pdf").ToList();
        Assert.Contains(pdf, p => p.Page == 1 && p.Text.Contains("fire alarm"));
        var firstAid = Assert.Single(pdf, p => p.Text.Contains("First aid kits"));
        Assert.Equal(2, firstAid.Page);
        Assert.Equal("First Aid", firstAid.HeadingPath[^1]);

        var csv = Of("offices.csv").ToList();
        Assert.Equal([2, 3, 4], csv.Select(p => p.Row!.Value));
        Assert.StartsWith("The Berlin office", csv[0].Text);
    }

    [Fact]
    public void Word_headings_paragraphs_and_table_rows_are_recovered()
    {
        var docx = Of("benefits.docx").ToList();
        Assert.Equal("Benefits Overview › Gym membership", Assert.Single(docx, p => p.Text.Contains("gym or sports club")).Heading);
        Assert.Equal("Benefits Overview › Pension", Assert.Single(docx, p => p.Text.Contains("4 percent")).Heading);
        Assert.Equal("Benefit: Lunch vouchers; Who: Office staff; Amount: 8 euros a day", Assert.Single(docx, p => p.Text.Contains("Lunch")).Text);
    }

    [Fact]
    public void Paragraphs_of_a_section_are_joined_up_to_the_limit_and_long_paragraphs_cut_at_sentences()
    {
        var sentence = "Each team keeps its own rota and shares it with the others every week. ";
        var paragraph = string.Concat(Enumerable.Repeat(sentence, 4)).Trim(); // 56 words
        var longParagraph = string.Concat(Enumerable.Repeat(sentence, 60)).Trim(); // 840 words
        var text = "# Rotas\n\n" + string.Join("\n\n", Enumerable.Repeat(paragraph, 12)) + "\n\n# Long\n\n" + longParagraph + "\n\n# Short\n\nOne line only.\n";
        var result = PassageSplitter.Split(DocumentExtractor.Extract(folder.Write("rotas.md", text), "rotas.md", null, DataLimits.Default, CancellationToken.None));

        var rotas = result.Where(p => p.Heading == "Rotas").ToList();
        Assert.Equal(3, rotas.Count);
        Assert.Equal(12 * 56, rotas.Sum(p => p.WordCount));
        Assert.All(rotas, p => Assert.InRange(p.WordCount, 100, 300));
        var pieces = result.Where(p => p.Heading == "Long").ToList();
        Assert.True(pieces.Count >= 3, $"840 words gave {pieces.Count} passages");
        Assert.Equal(840, pieces.Sum(p => p.WordCount));
        Assert.All(pieces, p => Assert.InRange(p.WordCount, 100, 300));
        Assert.All(pieces, p => Assert.EndsWith("week.", p.Text));
        // A heading is a hard boundary: the short section is not merged into the one before it.
        Assert.Equal("One line only.", Assert.Single(result, p => p.Heading == "Short").Text);
    }

    [Fact]
    public void Passages_of_a_reviewed_preparation_hold_only_redacted_text()
    {
        var documents = HandbookCorpus.Extract(folder);
        Assert.Contains(Of("handbook.md"), p => p.Text.Contains("servicedesk@northwind-traders.com"));
        var review = DatasetBuilder.Review(documents, new DatasetSettings());
        var reviewed = PassageSplitter.Split(review);
        Assert.DoesNotContain(reviewed, p => p.Text.Contains("servicedesk@", StringComparison.Ordinal));
        Assert.Contains(reviewed, p => p.Heading == "Employee Handbook › Equipment" && p.Text.Contains("[EMAIL]"));
        // The same files, kinds and structure as splitting the documents themselves.
        Assert.Equal(passages.Select(p => (p.Id, p.Heading, p.Page, p.Row)), reviewed.Select(p => (p.Id, p.Heading, p.Page, p.Row)));
    }

    [Fact]
    public void Passages_round_trip_through_passages_jsonl()
    {
        var path = folder.File("passages.jsonl");
        PassagesFile.Write(path, passages);
        var read = PassagesFile.Read(path);
        Assert.Equal(passages.Count, read.Count);
        Assert.Equal(passages, read);
        Assert.NotEqual(passages[2], passages[2] with { HeadingPath = [.. passages[2].HeadingPath, "Other"] });
        Assert.Equal(SearchIndex.HashPassages(passages), SearchIndex.HashPassages(read));
    }
}
