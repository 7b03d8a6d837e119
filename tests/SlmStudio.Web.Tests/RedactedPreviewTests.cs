using System.Text;
using SlmStudio.Web.Data;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>Issue 13: previews of uploads are redacted before they are stored or shown, whatever the project's switch.</summary>
public sealed class RedactedPreviewTests
{
    private const string Email = "anna.berg@example.com";
    private const string Iban = "DE89 3704 0044 0532 0130 00";

    [Fact]
    public async Task The_stored_and_shown_previews_hold_placeholders_instead_of_personal_data()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        await using (var db = await host.DbAsync())
        {
            var row = await db.Projects.FindAsync(project.Id);
            row!.RedactPersonalData = false; // even when the training text keeps them
            await db.SaveChangesAsync();
        }
        var text = $"Write to {Email} about refunds. Salaries are paid to {Iban} every month. " + string.Concat(Enumerable.Repeat("The kettle descales in ten minutes. ", 20));
        var uploads = host.Get<DataUploads>();
        var outcome = await uploads.SaveAsync(project.Id, "staff.txt", new MemoryStream(Encoding.UTF8.GetBytes(text)), default);
        var csv = await uploads.SaveAsync(project.Id, "tickets.csv", new MemoryStream(Encoding.UTF8.GetBytes($"subject,body\nRefund,Please reply to {Email} today\n")), default);
        await host.Get<DataPreparation>().ExtractAsync(project.Id, default);

        await using (var db = await host.DbAsync())
        {
            var stored = (await db.DataFiles.FindAsync(outcome.File!.Id))!.Preview;
            Assert.DoesNotContain(Email, stored);
            Assert.DoesNotContain(Iban, stored);
            Assert.Contains("[EMAIL]", stored);
            Assert.Contains("The kettle descales", stored);

            // A row stored before previews were redacted is redacted when the data step reads it.
            var old = (await db.DataFiles.FindAsync(outcome.File.Id))!;
            old.Preview = $"Call {Email}";
            await db.SaveChangesAsync();
        }
        var shown = (await uploads.FilesAsync(project.Id)).Single(f => f.Id == outcome.File.Id).Preview;
        Assert.Equal("Call [EMAIL]", shown);

        var table = uploads.PreviewTable(csv.File!);
        Assert.DoesNotContain(table.FirstRows.SelectMany(r => r), cell => cell.Contains(Email, StringComparison.Ordinal));
        Assert.Contains(table.FirstRows.SelectMany(r => r), cell => cell.Contains("[EMAIL]", StringComparison.Ordinal));
    }
}
