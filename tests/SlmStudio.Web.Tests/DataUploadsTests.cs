using System.Text;
using SlmStudio.Core.Data;
using SlmStudio.Web.Data;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

public class DataUploadsTests
{
    [Fact]
    public async Task Text_in_an_older_encoding_is_decoded()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var text = string.Concat(Enumerable.Repeat("Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9 du personnel. ", 40)).Trim();

        var outcome = await host.Get<DataUploads>().SaveAsync(project.Id, "ancien.txt", new MemoryStream(Encoding.Latin1.GetBytes(text)), default);
        await host.Get<DataPreparation>().ExtractAsync(project.Id, default);

        await using var db = await host.DbAsync();
        var file = await db.DataFiles.FindAsync(outcome.File!.Id);
        Assert.Null(file!.Problem);
        Assert.StartsWith(file.Preview.TrimEnd('…'), text);
        Assert.Contains("Café crème, naïve résumé", file.Preview);
        Assert.Equal(text.Length, file.Characters);
    }

    [Fact]
    public async Task Stores_under_a_generated_name_keeps_the_original_as_data_and_counts_it()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var uploads = host.Get<DataUploads>();
        var text = "Grüße aus Millbrook. " + string.Concat(Enumerable.Repeat("The kettle boils water. ", 100)).TrimEnd();

        var outcome = await uploads.SaveAsync(project.Id, "../../etc/notes.txt", new MemoryStream(Encoding.UTF8.GetBytes(text)), default);

        var file = outcome.File!;
        Assert.Equal("../../etc/notes.txt", file.OriginalName);
        Assert.Matches("^[0-9a-f]{32}\\.txt$", file.StoredName);
        Assert.True(File.Exists(Path.Combine(host.Get<Options.StudioPaths>().Uploads(project.Id), file.StoredName)));
        Assert.Equal(1, (await uploads.StatisticsAsync(project.Id)).WaitingFiles);

        await host.Get<DataPreparation>().ExtractAsync(project.Id, default);
        var stats = await uploads.StatisticsAsync(project.Id);
        Assert.Equal((1, 1, 0, (long)text.Length), (stats.Files, stats.UsableFiles, stats.WaitingFiles, stats.Characters));
        Assert.Equal(TokenEstimate.FromCharacters(text.Length), stats.EstimatedTokens);
        Assert.True(stats.Enough);
    }

    [Fact]
    public async Task Accept_list_and_size_limit_come_from_the_settings()
    {
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:UploadExtensions"] = ".txt, md,.exe", ["Studio:MaxUploadMegabytes"] = "2" });
        var uploads = host.Get<DataUploads>();
        Assert.Equal([".txt", ".md"], uploads.AcceptedExtensions); // .exe is never read, whatever the settings say
        Assert.Equal(2L * 1024 * 1024, uploads.Limits.MaxFileBytes);
        var project = await host.AddProjectAsync();
        var pdf = await uploads.SaveAsync(project.Id, "a.pdf", new MemoryStream(DataDocuments.Pdf("Some text")), default);
        Assert.Null(pdf.File);
        Assert.Contains("TXT, MD", pdf.Problem!.Fix);
    }

    [Fact]
    public async Task Sample_data_is_enough_to_train_on()
    {
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:MinimumTrainingCharacters"] = "20000" });
        var project = await host.AddProjectAsync();
        var uploads = host.Get<DataUploads>();

        var count = await uploads.AddSampleDataAsync(project.Id, default);
        await host.Get<DataPreparation>().ExtractAsync(project.Id, default);

        var stats = await uploads.StatisticsAsync(project.Id);
        Assert.True(count >= 8);
        Assert.Equal(count, stats.UsableFiles);
        Assert.True(stats.Characters > 150_000, $"{stats.Characters} characters");
        Assert.True(stats.Enough);
    }

    [Fact]
    public void Damaged_stored_findings_show_as_a_problem_instead_of_vanishing()
    {
        var intact = new DataFile { ProjectId = 1, OriginalName = "a.txt", StoredName = "x.txt", Kind = "Text", Sha256 = "",
            ProblemsJson = """[{"file":"a.txt","row":null,"severity":"Warning","message":"Short.","fix":"Add text."}]""", LabelCountsJson = """{"hr":2}""" };
        var damaged = new DataFile { ProjectId = 1, OriginalName = "b.csv", StoredName = "y.csv", Kind = "Csv", Sha256 = "",
            ProblemsJson = "[{", LabelCountsJson = """{"hr":2}""" };
        var damagedLabels = new DataFile { ProjectId = 1, OriginalName = "c.csv", StoredName = "z.csv", Kind = "Csv", Sha256 = "", LabelCountsJson = "{oops" };

        Assert.Equal("Short.", Assert.Single(DataUploads.Problems(intact)).Message);
        Assert.Equal(2, DataUploads.LabelCounts(intact)["hr"]);
        Assert.Contains("could not be read back", Assert.Single(DataUploads.Problems(damaged)).Message);
        Assert.Equal("Remove the file and upload it again.", Assert.Single(DataUploads.Problems(damagedLabels)).Fix);
        Assert.Empty(DataUploads.LabelCounts(damagedLabels));
    }
}
