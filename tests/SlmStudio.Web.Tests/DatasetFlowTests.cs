using System.Text;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Data;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Options;
using SlmStudio.Web.Services;
using Xunit.Abstractions;

namespace SlmStudio.Web.Tests;

/// <summary>
/// The data step's service half against a real SQLite file and real folders: uploads of every format, extraction
/// (PDF, DOCX and HTML in the isolated slm extract process), review, freeze, and the dataset version a run trains on.
/// </summary>
public class DatasetFlowTests(ITestOutputHelper output)
{
    private static MemoryStream Utf8(string text) => new(Encoding.UTF8.GetBytes(text));

    private static async Task<DataFile> UploadAsync(StudioTestHost host, int projectId, string name, Stream content)
    {
        var outcome = await host.Get<DataUploads>().SaveAsync(projectId, name, content, default);
        Assert.True(outcome.File is not null, $"{name}: {outcome.Problem?.Message}");
        return outcome.File!;
    }

    private static async Task<List<DataFile>> FilesAsync(StudioTestHost host, int projectId)
    {
        await using var db = await host.DbAsync();
        return await db.DataFiles.Where(f => f.ProjectId == projectId).OrderBy(f => f.Id).ToListAsync();
    }

    [Fact]
    public async Task Mixed_formats_are_extracted_reviewed_and_frozen_as_a_dataset_version()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        await UploadAsync(host, project.Id, "notes.txt", Utf8(DataDocuments.Prose("kettles", 12) + "\n\nWrite to jane.doe@example.com for spare lids."));
        await UploadAsync(host, project.Id, "guide.md", Utf8("# Guide\n\n" + DataDocuments.Prose("toasters", 10)));
        await UploadAsync(host, project.Id, "page.html", Utf8("<html><head><script>var hidden = 1;</script></head><body><h1>Service</h1><p>" + DataDocuments.Prose("fridges", 6) + "</p></body></html>"));
        await UploadAsync(host, project.Id, "tickets.csv", Utf8("id,body,team\n" + string.Join("\n", Enumerable.Range(1, 8).Select(i => $"{i},\"Ticket {i}: the blender number {i * 11} stopped after {i} minutes of use\",support"))));
        await UploadAsync(host, project.Id, "faq.jsonl", Utf8(string.Join("\n", Enumerable.Range(1, 6).Select(i => $"{{\"text\":\"Answer {i}: descale the machine every {i + 1} weeks with citric acid\",\"n\":{i}}}"))));
        await UploadAsync(host, project.Id, "handbook.docx", new MemoryStream(DataDocuments.Docx("Handbook", DataDocuments.Prose("holidays", 8), "Call +44 20 7946 0958 for the payroll office.")));
        await UploadAsync(host, project.Id, "policy.pdf", new MemoryStream(DataDocuments.Pdf("Policy on returns within thirty days of purchase.", "Refunds go to the original payment method.")));

        var preparation = host.Get<DataPreparation>();
        var updates = new List<DataUpdate>();
        using (host.Get<DataNotifier>().Subscribe(project.Id, u => { lock (updates) updates.Add(u); return Task.CompletedTask; }))
            await preparation.ExtractAsync(project.Id, default);

        var files = await FilesAsync(host, project.Id);
        foreach (var f in files) output.WriteLine($"{f.OriginalName}: {f.Status} {f.Kind} {f.Characters} chars {f.Records} records {f.Problem}");
        Assert.All(files, f => Assert.Equal(DataFileStatus.Ready, f.Status));
        Assert.Equal(["Text", "Markdown", "Html", "Csv", "Jsonl", "Docx", "Pdf"], files.Select(f => f.Kind));
        Assert.Equal("text=body", files[3].Mapping);
        Assert.Equal(8, files[3].Records);
        Assert.DoesNotContain("hidden", files[2].Preview);
        Assert.Contains("Refunds go to the original payment method", files[6].Preview);
        lock (updates)
        {
            Assert.Contains(updates, u => u.Progress is { Stage: "extract", Done: 7, Total: 7 });
            Assert.Contains(updates, u => u.Finished);
        }
        var stats = await host.Get<DataUploads>().StatisticsAsync(project.Id);
        Assert.Equal((7, 7, 0), (stats.Files, stats.UsableFiles, stats.WaitingFiles));
        Assert.Equal(files.Sum(f => f.Characters), stats.Characters);

        var reviewed = await preparation.ReviewAsync(project.Id);
        Assert.Equal(1, reviewed.Review.RedactionCounts["Email"]);
        Assert.Equal(1, reviewed.Review.RedactionCounts["Phone"]);
        var email = Assert.Single(reviewed.Review.RedactionFindings, f => f.Kind == PersonalDataKind.Email);
        Assert.Equal("notes.txt", email.File);
        Assert.DoesNotContain("jane.doe@example.com", email.Masked);

        var record = await preparation.FreezeAsync(reviewed, "tester");
        await using (var db = await host.DbAsync())
        {
            var row = await db.DatasetVersions.SingleAsync();
            Assert.Equal(record.Id, row.Id);
            Assert.Equal(7, row.Sources);
            Assert.Equal(row.Id, (await db.Projects.SingleAsync(p => p.Id == project.Id)).DatasetVersionId);
            Assert.Equal(row.Records, row.TrainRecords + row.ValidationRecords);
            Assert.True(row.ValidationRecords > 0);
        }
        var folder = preparation.FolderOf(record);
        Assert.StartsWith(host.Get<StudioPaths>().Datasets, folder);
        var version = DatasetVersion.Load(folder);
        Assert.True(version.Verify());
        Assert.Equal(record.DatasetId, version.Id);
        Assert.Equal(files.Select(f => f.Sha256).Order(), version.Sources.Select(s => s.Sha256).Order());
        var text = await File.ReadAllTextAsync(Path.Combine(folder, "train.txt")) + await File.ReadAllTextAsync(Path.Combine(folder, "val.txt"));
        Assert.Contains("[EMAIL]", text);
        Assert.DoesNotContain("jane.doe@example.com", text);
        Assert.DoesNotContain("7946 0958", text);

        // Freezing the same review again gives the same version, not a second row or folder.
        var again = await preparation.FreezeAsync(await preparation.ReviewAsync(project.Id), "tester");
        Assert.Equal(record.Id, again.Id);
        Assert.Single(Directory.GetDirectories(host.Get<StudioPaths>().Datasets));

        // Removing a file leaves the frozen version intact and makes the project's data "not frozen" again.
        await host.Get<DataUploads>().DeleteAsync(files[0].Id);
        Assert.True(DatasetVersion.Load(folder).Verify());
        Assert.False(File.Exists(Path.Combine(host.Get<StudioPaths>().Uploads(project.Id), files[0].StoredName)));
        Assert.True(File.Exists(Path.Combine(host.Get<StudioPaths>().Uploads(project.Id), files[1].StoredName)));
        await using (var db = await host.DbAsync())
        {
            Assert.Null((await db.Projects.SingleAsync(p => p.Id == project.Id)).DatasetVersionId);
            Assert.Equal(6, await db.DataFiles.CountAsync());
        }
    }

    [Fact]
    public async Task Bad_files_each_get_a_message_and_leave_nothing_while_good_files_go_through()
    {
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:MaxUploadMegabytes"] = "1" });
        var project = await host.AddProjectAsync();
        var uploads = host.Get<DataUploads>();
        var folder = host.Get<StudioPaths>().Uploads(project.Id);

        var refused = new Dictionary<string, DataProblem>();
        async Task RefusedAsync(string name, byte[] bytes)
        {
            var outcome = await uploads.SaveAsync(project.Id, name, new MemoryStream(bytes), default);
            Assert.True(outcome.File is null, $"{name} was accepted");
            refused[name] = outcome.Problem!;
        }
        await RefusedAsync("setup.exe", [0x4D, 0x5A, 0x90, 0, 3, 0, 0, 0]);
        await RefusedAsync("empty.txt", []);
        await RefusedAsync("invoice.pdf", [0x7F, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, .. new byte[200]]);
        await RefusedAsync("report.pdf", Encoding.UTF8.GetBytes("Just some plain text pretending to be a PDF."));
        await RefusedAsync("cut-off.docx", [(byte)'P', (byte)'K', 3, 4, .. Encoding.ASCII.GetBytes(new string('x', 300))]);
        await RefusedAsync("big.txt", Encoding.ASCII.GetBytes(new string('a', 1024 * 1024 + 10)));
        await RefusedAsync("picture.md", [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, .. new byte[100]]);
        foreach (var (name, p) in refused) output.WriteLine($"{name}: {p.Message} | {p.Fix}");
        Assert.All(refused.Values, p => Assert.False(string.IsNullOrWhiteSpace(p.Fix)));
        Assert.Contains(".exe", refused["setup.exe"].Message);
        Assert.Contains("empty", refused["empty.txt"].Message);
        Assert.Contains("actually a program", refused["invoice.pdf"].Message);
        Assert.Contains("not a PDF", refused["report.pdf"].Message);
        Assert.Contains("1 MB", refused["big.txt"].Message);
        Assert.Contains("cut-off.docx", refused["cut-off.docx"].File);
        Assert.Equal("invoice.pdf", refused["invoice.pdf"].File);
        Assert.Empty(Directory.Exists(folder) ? Directory.GetFiles(folder) : []);

        // Stored, but their content turns out to be unusable or partly broken when read.
        var hostile = "..\\..\\evil\u202Egnp.md";
        await UploadAsync(host, project.Id, "good.txt", Utf8(DataDocuments.Prose("ovens", 10)));
        await UploadAsync(host, project.Id, hostile, Utf8(DataDocuments.Prose("mixers", 4)));
        await UploadAsync(host, project.Id, "broken.docx", new MemoryStream(DataDocuments.DocxWithBrokenXml()));
        await UploadAsync(host, project.Id, "ragged.csv", Utf8("title,body\nA,\"The first ticket about a broken lid on the kettle\"\nB,\"The second ticket\",extra,cells\nC,\"The third ticket about a loose handle\""));
        await UploadAsync(host, project.Id, "lines.jsonl", Utf8("{\"text\":\"First line of text about steam irons\"}\n{\"text\":\"Second line about irons\"}\n{not json\n{\"text\":\"Fourth line about irons\"}"));
        await UploadAsync(host, project.Id, "numbers.csv", Utf8("a,b\n1,2\n3,4\n5,6"));
        await UploadAsync(host, project.Id, "scan.pdf", new MemoryStream(DataDocuments.Pdf()));

        await host.Get<DataPreparation>().ExtractAsync(project.Id, default);
        var files = (await FilesAsync(host, project.Id)).ToDictionary(f => f.OriginalName);
        foreach (var f in files.Values)
            output.WriteLine($"{SafeFileName.ForDisplay(f.OriginalName)} [{f.StoredName}]: {f.Status}; {string.Join(" / ", DataUploads.Problems(f).Select(p => $"{p.Row}: {p.Message} {p.Fix}"))}");

        Assert.Equal(DataFileStatus.Ready, files["good.txt"].Status);
        Assert.Equal(DataFileStatus.Ready, files[hostile].Status);
        Assert.Matches("^[0-9a-f]{32}\\.md$", files[hostile].StoredName);
        Assert.Contains("\\u{202E}", SafeFileName.ForDisplay(hostile));

        Assert.Equal(DataFileStatus.Failed, files["broken.docx"].Status);
        Assert.NotNull(files["broken.docx"].Problem);
        Assert.Equal(DataFileStatus.Failed, files["scan.pdf"].Status);
        Assert.Equal(DataFileStatus.Failed, files["numbers.csv"].Status);

        var ragged = DataUploads.Problems(files["ragged.csv"]);
        Assert.Equal(DataFileStatus.Ready, files["ragged.csv"].Status);
        Assert.Contains(ragged, p => p.Row == 3 && p.File == "ragged.csv");
        var lines = DataUploads.Problems(files["lines.jsonl"]);
        Assert.Equal(DataFileStatus.Ready, files["lines.jsonl"].Status);
        Assert.Contains(lines, p => p.Row == 3);
        Assert.All(files.Values.SelectMany(DataUploads.Problems), p => Assert.DoesNotContain("Exception", p.Message));

        // The review uses the good files and still lists what went wrong with the rest.
        var reviewed = await host.Get<DataPreparation>().ReviewAsync(project.Id);
        Assert.Equal(["good.txt", hostile, "ragged.csv", "lines.jsonl"], reviewed.Review.Sources.Select(s => s.OriginalName));
    }

    [Fact]
    public async Task The_same_file_twice_is_stored_twice_but_used_once()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        var text = DataDocuments.Prose("dishwashers", 20);
        var first = await UploadAsync(host, project.Id, "manual.txt", Utf8(text));
        var second = await UploadAsync(host, project.Id, "manual (1).txt", Utf8(text));
        Assert.NotEqual(first.StoredName, second.StoredName);
        Assert.Equal(first.Sha256, second.Sha256);

        await host.Get<DataPreparation>().ExtractAsync(project.Id, default);
        var stats = await host.Get<DataUploads>().StatisticsAsync(project.Id);
        Assert.Equal((2, 1), (stats.Files, stats.UsableFiles));
        Assert.Equal(text.Length, stats.Characters);

        var reviewed = await host.Get<DataPreparation>().ReviewAsync(project.Id);
        Assert.Single(reviewed.Review.Sources);
        Assert.Contains(reviewed.Review.Problems, p => p.File == "manual (1).txt" && p.Message.Contains("same as 'manual.txt'"));
    }

    [Fact]
    public async Task A_run_trains_on_the_frozen_dataset_version_or_freezes_one_when_the_data_changed()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        await UploadAsync(host, project.Id, "a.txt", Utf8(DataDocuments.Prose("heaters", 40)));
        var preparation = host.Get<DataPreparation>();
        await preparation.ExtractAsync(project.Id, default);
        var frozen = await preparation.FreezeAsync(await preparation.ReviewAsync(project.Id), "tester");

        var scheduler = host.Get<RunScheduler>();
        var runId = await scheduler.StartAsync(project.Id, "tester");
        TrainingRun run;
        await using (var db = await host.DbAsync()) run = await db.Runs.SingleAsync(r => r.Id == runId);
        Assert.Equal(frozen.Id, run.DatasetVersionId);
        var runDir = host.Get<StudioPaths>().Run(runId);
        Directory.CreateDirectory(runDir);
        var dataPath = await host.Get<TrainingData>().PrepareAsync(run, runDir, default);
        Assert.Equal(preparation.FolderOf(frozen), dataPath);
        Assert.Contains(dataPath, TrainingJob.BuildArguments(run, dataPath, runDir, false, null));
        Assert.Contains("a.txt", await File.ReadAllTextAsync(Path.Combine(runDir, TrainingData.LineageFile)));

        // New data after the freeze: the next run freezes the data as it is now and points at that version.
        await UploadAsync(host, project.Id, "b.txt", Utf8(DataDocuments.Prose("coolers", 40)));
        await scheduler.CancelAsync(runId);
        var second = await scheduler.StartAsync(project.Id, "tester");
        await using (var db = await host.DbAsync()) run = await db.Runs.SingleAsync(r => r.Id == second);
        Assert.Null(run.DatasetVersionId);
        var secondDir = host.Get<StudioPaths>().Run(second);
        Directory.CreateDirectory(secondDir);
        var secondPath = await host.Get<TrainingData>().PrepareAsync(run, secondDir, default);
        await using (var db = await host.DbAsync())
        {
            var stored = await db.Runs.Include(r => r.DatasetVersion).SingleAsync(r => r.Id == second);
            Assert.NotNull(stored.DatasetVersion);
            Assert.NotEqual(frozen.Id, stored.DatasetVersionId);
            Assert.Equal(2, stored.DatasetVersion!.Sources);
            Assert.Equal(preparation.FolderOf(stored.DatasetVersion), secondPath);
        }

        // A frozen version whose files were changed on disk is refused with a message.
        await File.AppendAllTextAsync(Path.Combine(dataPath, "train.txt"), "tampered");
        await using (var db = await host.DbAsync()) run = await db.Runs.SingleAsync(r => r.Id == runId);
        var e = await Assert.ThrowsAsync<UserFacingException>(() => host.Get<TrainingData>().PrepareAsync(run, runDir, default));
        Assert.Contains("changed after it was frozen", e.Message);
    }
}
