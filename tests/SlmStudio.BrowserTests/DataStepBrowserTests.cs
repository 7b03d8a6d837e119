using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace SlmStudio.BrowserTests;

/// <summary>
/// The data step in a real browser: a Word document made here with the OpenXML SDK (holding an email address), a CSV
/// written as plain text and a file of an unsupported type, uploaded at once; the review shows the redaction before
/// the dataset version is frozen.
/// </summary>
public sealed class DataStepBrowserTests(PortalFixture portal, ITestOutputHelper output) : IClassFixture<PortalFixture>
{
    private async Task ShotAsync(IPage page, string name)
    {
        var path = Path.Combine(portal.Screenshots, $"data-{name}.png");
        await page.ScreenshotAsync(new() { Path = path, FullPage = true });
        output.WriteLine($"screenshot: {path}");
    }

    [Fact]
    public async Task Uploads_a_Word_document_and_a_CSV_and_reviews_the_redaction_before_continuing()
    {
        try { await RunAsync(); }
        catch
        {
            output.WriteLine("Portal log:\n" + portal.PortalLog);
            throw;
        }
    }

    private async Task RunAsync()
    {
        var folder = Path.Combine(portal.DataRoot, "to-upload");
        Directory.CreateDirectory(folder);
        var paragraphs = Enumerable.Range(1, 40).Select(i =>
            $"Rule {i}: staff at branch {i} record every return within {i % 9 + 2} days and file form R-{i * 17} with the shift lead.").ToList();
        paragraphs.Insert(5, "Questions about this handbook go to hr.desk@brightwater.example, who answers within two days.");
        var docx = Path.Combine(folder, "handbook.docx");
        await File.WriteAllBytesAsync(docx, TestSupport.WordDocuments.Docx("Returns handbook", paragraphs));
        var csv = Path.Combine(folder, "tickets.csv");
        await File.WriteAllTextAsync(csv, "id,subject,body\n" + string.Join("\n", Enumerable.Range(1, 30).Select(i =>
            $"{i},Ticket {i},\"Customer {i} reports that kettle model K{i * 3} clicks off after {i + 10} seconds; advised descaling.\"")), Encoding.UTF8);
        var exe = Path.Combine(folder, "tool.exe");
        await File.WriteAllBytesAsync(exe, [0x4D, 0x5A, 0x90, 0, 3, 0, 0, 0]);

        // Uploading and reading the files takes a few seconds on a busy machine, more than Playwright's 5 s default.
        Assertions.SetDefaultExpectTimeout(60_000);
        await using var context = await portal.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 } });
        context.SetDefaultTimeout(60_000);
        var page = await context.NewPageAsync();
        await portal.SignInAsync(page);
        await page.GotoAsync($"{portal.BaseUrl}/projects/new");
        await page.FillAsync("#project-name", "Returns desk");
        await page.ClickAsync("#save-goals");
        await page.WaitForURLAsync(new Regex(@"/projects/\d+/data$"));
        var projectUrl = page.Url;
        // The step has its own address: a reload opens the data step again (and gives the file picker a settled page).
        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("#data-stats")).ToBeVisibleAsync();

        await page.SetInputFilesAsync("#upload", [docx, csv, exe]);
        await Assertions.Expect(page.Locator("#upload-problems")).ToContainTextAsync("tool.exe");
        await Assertions.Expect(page.Locator("#data-stats")).ToContainTextAsync("2 of 2 usable");
        await Assertions.Expect(page.Locator("#data-files")).ToContainTextAsync("columns: text=body");
        await ShotAsync(page, "uploaded");

        // The suggested column mapping is shown for the CSV.
        await page.Locator(".data-file", new() { HasText = "tickets.csv" }).Locator(".show-mapping").ClickAsync();
        await Assertions.Expect(page.Locator(".column-mapping")).ToContainTextAsync("Suggested: text = body");

        await page.ClickAsync("#data-review");
        var redactions = page.Locator("#review-redactions");
        await Assertions.Expect(redactions).ToContainTextAsync("[EMAIL]");
        await Assertions.Expect(redactions.Locator("[data-kind='Email'] .redaction-count")).ToHaveTextAsync("1");
        await Assertions.Expect(redactions).ToContainTextAsync("handbook.docx, paragraph 7");
        Assert.DoesNotContain("hr.desk@brightwater.example", await page.InnerTextAsync("#review-panel"));
        await ShotAsync(page, "review");

        await page.ClickAsync("#data-continue");
        await Assertions.Expect(page.Locator("#architecture-continue")).ToBeVisibleAsync();

        // Phone size: the data step with its review fits the screen.
        await using var phone = await portal.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 390, Height = 844 }, IsMobile = true });
        var small = await phone.NewPageAsync();
        await portal.SignInAsync(small);
        await small.GotoAsync(projectUrl);
        await Assertions.Expect(small.Locator("#data-stats")).ToContainTextAsync("2 of 2 usable");
        await Assertions.Expect(small.Locator("#current-dataset")).ToContainTextAsync("Frozen as dataset version");
        await small.ClickAsync("#data-review");
        await Assertions.Expect(small.Locator("#review-redactions")).ToContainTextAsync("[EMAIL]");
        var overflow = await small.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
        Assert.True(overflow <= 1, $"the data step is {overflow}px wider than a phone screen");
        await ShotAsync(small, "review-phone");
    }
}
