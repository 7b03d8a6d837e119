using System.Diagnostics;
using System.Text;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Data;
using SlmStudio.Web.Data;
using SlmStudio.Web.Services;
using Xunit.Abstractions;

namespace SlmStudio.Web.Tests;

/// <summary>
/// Upload → extraction → review → freeze of a mixed corpus, timed per phase. 3 MB by default so the suite stays fast;
/// SLM_DATA_BENCH_MB=50 runs the 50 MB case (the figures are printed, not asserted beyond "within minutes").
/// </summary>
public class DataVolumeTests(ITestOutputHelper output)
{
    private static readonly string[] Words = ("the bank customer account payment card transfer policy employee leave salary contract clause party " +
        "agreement notice period termination support ticket refund delivery order invoice product service quality risk compliance audit " +
        "report quarter revenue cost margin growth market client request answer question branch manager team office holiday training").Split(' ');

    private static List<string> Paragraphs(Random rng, long bytes)
    {
        var list = new List<string>();
        long size = 0;
        while (size < bytes)
        {
            string p;
            if (list.Count > 10 && rng.Next(20) == 0) p = list[rng.Next(list.Count)];
            else
            {
                var sb = new StringBuilder();
                for (int s = rng.Next(2, 6); s > 0; s--)
                {
                    for (int w = rng.Next(8, 20); w > 0; w--) sb.Append(Words[rng.Next(Words.Length)]).Append(' ');
                    sb.Length--;
                    sb.Append(". ");
                }
                if (rng.Next(40) == 0) sb.Append($"Contact person{rng.Next(1000)}@example.com for details.");
                p = sb.ToString().Trim();
            }
            list.Add(p);
            size += p.Length + 2;
        }
        return list;
    }

    private static IEnumerable<(string Name, byte[] Bytes)> Corpus(double megabytes)
    {
        var rng = new Random(42);
        long unit = (long)(megabytes * 1024 * 1024 / 20);
        for (int i = 0; i < 6; i++) yield return ($"notes-{i}.txt", Encoding.UTF8.GetBytes(string.Join("\n\n", Paragraphs(rng, unit))));
        for (int i = 0; i < 2; i++) yield return ($"guide-{i}.md", Encoding.UTF8.GetBytes("# Guide\n\n" + string.Join("\n\n", Paragraphs(rng, unit))));
        for (int i = 0; i < 3; i++)
            yield return ($"tickets-{i}.csv", Encoding.UTF8.GetBytes("id,body,team\n" + string.Join("\n", Paragraphs(rng, unit).Select((p, n) => $"{n},\"{p}\",team{n % 4}"))));
        for (int i = 0; i < 2; i++)
            yield return ($"faq-{i}.jsonl", Encoding.UTF8.GetBytes(string.Join("\n", Paragraphs(rng, unit).Select(p => System.Text.Json.JsonSerializer.Serialize(new { text = p })))));
        for (int i = 0; i < 2; i++)
            yield return ($"page-{i}.html", Encoding.UTF8.GetBytes("<html><body>" + string.Concat(Paragraphs(rng, unit).Select(p => $"<p>{System.Net.WebUtility.HtmlEncode(p)}</p>")) + "</body></html>"));
        for (int i = 0; i < 3; i++) yield return ($"handbook-{i}.docx", DataDocuments.Docx($"Handbook {i}", [.. Paragraphs(rng, unit)]));
        for (int i = 0; i < 2; i++) yield return ($"report-{i}.pdf", DataDocuments.PdfPages([.. Paragraphs(rng, unit / 2).SelectMany(p => p.Chunk(90).Select(c => new string(c)))]));
    }

    [Fact]
    public async Task A_mixed_corpus_is_prepared_with_progress_within_minutes()
    {
        var megabytes = double.TryParse(Environment.GetEnvironmentVariable("SLM_DATA_BENCH_MB"), System.Globalization.CultureInfo.InvariantCulture, out var mb) ? mb : 3;
        await using var host = await StudioTestHost.StartAsync(new() { ["Studio:MaxUploadMegabytes"] = "100" });
        var project = await host.AddProjectAsync();
        var uploads = host.Get<DataUploads>();
        var preparation = host.Get<DataPreparation>();

        var files = Corpus(megabytes).ToList();
        var totalBytes = files.Sum(f => (long)f.Bytes.Length);
        var clock = Stopwatch.StartNew();
        foreach (var (name, bytes) in files) Assert.NotNull((await uploads.SaveAsync(project.Id, name, new MemoryStream(bytes), default)).File);
        var uploaded = clock.Elapsed;

        var progress = new List<DataProgress>();
        using (host.Get<DataNotifier>().Subscribe(project.Id, u => { if (u.Progress is { } p) lock (progress) progress.Add(p); return Task.CompletedTask; }))
            await preparation.ExtractAsync(project.Id, default);
        var extracted = clock.Elapsed;
        var reviewed = await preparation.ReviewAsync(project.Id);
        var reviewTime = clock.Elapsed;
        var dataset = await preparation.FreezeAsync(reviewed, "tester");
        var total = clock.Elapsed;

        output.WriteLine($"{files.Count} files, {totalBytes / 1048576.0:F1} MB on {Environment.ProcessorCount} cores: upload {uploaded.TotalSeconds:F1} s, " +
                         $"extraction {(extracted - uploaded).TotalSeconds:F1} s, review {(reviewTime - extracted).TotalSeconds:F1} s, freeze {(total - reviewTime).TotalSeconds:F1} s, " +
                         $"total {total.TotalSeconds:F1} s; {dataset.Records:N0} records, {dataset.Characters:N0} characters, " +
                         $"{dataset.ExactDuplicatesRemoved} exact + {dataset.NearDuplicatesRemoved} near duplicates removed, redactions {dataset.RedactionCountsJson}");
        await using (var db = await host.DbAsync())
            Assert.All(await db.DataFiles.ToListAsync(), f => Assert.True(f.Status == DataFileStatus.Ready, $"{f.OriginalName}: {f.Problem}"));
        lock (progress)
        {
            Assert.Equal(files.Count, progress.Max(p => p.Done));
            Assert.True(progress.Select(p => p.Done).Distinct().Count() >= files.Count / 4, "progress arrives as files finish, not only at the end");
        }
        Assert.True(dataset.ExactDuplicatesRemoved > 0);
        Assert.True(reviewed.Review.RedactionCounts.GetValueOrDefault("Email") > 0);
        Assert.True(total < TimeSpan.FromMinutes(5), $"took {total}");
    }
}
