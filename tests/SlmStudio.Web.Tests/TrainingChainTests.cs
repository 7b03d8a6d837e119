using System.IO.Compression;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Inference;
using SlmStudio.Web.Data;
using SlmStudio.Web.Jobs;
using SlmStudio.Web.Services;

namespace SlmStudio.Web.Tests;

/// <summary>
/// The whole chain with the real engine: <c>slm train</c> in a child process, ONNX export, registration, zip download,
/// and concurrent generation from the registered version. Tiny model, a few steps: seconds to a minute on a CPU.
/// </summary>
public class TrainingChainTests
{
    private static async Task UploadHandwrittenSamplesAsync(StudioTestHost host, int projectId)
    {
        var uploads = host.Get<DataUploads>();
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "SampleData", "handwritten")).Order())
        {
            await using var stream = File.OpenRead(file);
            await uploads.SaveAsync(projectId, Path.GetFileName(file), stream, default);
        }
    }

    private static async Task<string> TextAsync(IAsyncEnumerable<GeneratedToken> tokens)
    {
        var text = new System.Text.StringBuilder();
        await foreach (var t in tokens) text.Append(t.Text);
        return text.ToString();
    }

    private static async Task<List<int>> TokenIdsAsync(IAsyncEnumerable<GeneratedToken> tokens)
    {
        var ids = new List<int>();
        await foreach (var t in tokens) ids.Add(t.Id);
        return ids;
    }

    [Fact]
    public async Task Training_export_and_registration_produce_a_downloadable_version_that_answers_ten_users_at_once()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync("Brightwater", ("The kettle", "the"), ("Brightwater", "zzqx-never"));
        await UploadHandwrittenSamplesAsync(host, project.Id);
        // The data step: extract, review, freeze; the run and the registered version point at this dataset version.
        var preparation = host.Get<DataPreparation>();
        await preparation.ExtractAsync(project.Id, default);
        var dataset = await preparation.FreezeAsync(await preparation.ReviewAsync(project.Id), "tester");
        await using (var db = await host.DbAsync())
        {
            var p = await db.Projects.SingleAsync(x => x.Id == project.Id);
            (p.MaxSteps, p.EvalEvery, p.VocabSize) = (3, 3, 512);
            await db.SaveChangesAsync();
        }
        var notifier = host.Get<RunNotifier>();
        var runId = await host.Get<RunScheduler>().StartAsync(project.Id, "tester");
        var pushed = new List<string>();
        using var subscription = notifier.Subscribe(runId, u => { lock (pushed) pushed.Add(u.Event?.Kind ?? u.Status.ToString()!); return Task.CompletedTask; });

        await host.Get<TrainingJob>().RunAsync(runId, default);

        await using (var db = await host.DbAsync())
        {
            var run = await db.Runs.SingleAsync(r => r.Id == runId);
            Assert.True(run.Status == RunStatus.Trained, $"{run.Status}: {run.Error}");
            Assert.Equal(dataset.Id, run.DatasetVersionId);
            Assert.Equal(3, run.Step);
            Assert.True(run.ValLoss > 0 && run.Perplexity > 1 && run.BitsPerChar > 0);
            Assert.True(run.Parameters > 100_000);
            var kinds = await db.RunEvents.Where(e => e.RunId == runId).Select(e => e.Kind).ToListAsync();
            Assert.Contains("started", kinds);
            Assert.Contains("step", kinds);
            Assert.Contains("eval", kinds);
            Assert.Contains("finished", kinds);
            Assert.Null(run.LeaseOwner);
        }
        lock (pushed)
        {
            Assert.Contains("step", pushed);
            Assert.Contains("Trained", pushed);
        }

        await host.Get<ExportJob>().RunAsync(runId, default);
        await host.Get<RegisterJob>().RunAsync(runId, default);
        await host.Get<RegisterJob>().RunAsync(runId, default); // a second delivery registers nothing new

        ModelVersion version;
        await using (var db = await host.DbAsync())
        {
            var run = await db.Runs.SingleAsync(r => r.Id == runId);
            Assert.True(run.Status == RunStatus.Succeeded, $"{run.Status}: {run.Error}");
            version = await db.ModelVersions.SingleAsync();
            Assert.Equal(run.ModelVersionId, version.Id);
        }
        Assert.Equal(1, version.Number);
        Assert.Equal(dataset.Id, version.DatasetVersionId);
        Assert.StartsWith("Passed", version.ParityResult);
        Assert.Equal(6, VersionDetails.Data(version).Count);
        var goals = VersionDetails.GoalResults(version);
        Assert.Equal(2, goals.Count);
        Assert.False(goals[1].Passed); // "zzqx-never" cannot appear in a continuation
        Assert.StartsWith("Brightwater", goals[1].Text);

        // The downloaded zip holds exactly the files of the manifest, byte for byte.
        var registry = host.Get<ModelRegistry>();
        Assert.Empty(registry.Verify(version));
        var manifest = VersionDetails.Manifest(version);
        Assert.Contains("model.onnx", manifest.Keys);
        using (var zipStream = new MemoryStream())
        {
            await registry.WriteZipAsync(version, zipStream, CancellationToken.None);
            zipStream.Position = 0;
            using var zip = new ZipArchive(zipStream, ZipArchiveMode.Read);
            foreach (var (path, sha) in manifest)
            {
                var entry = zip.GetEntry(path) ?? throw new Xunit.Sdk.XunitException($"{path} missing from the zip");
                await using var s = entry.Open();
                Assert.Equal(sha, Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(s)));
            }
            Assert.NotNull(zip.GetEntry(ModelRegistry.ManifestFile));
        }

        // Ten playground users at once, one shared session: each gets the whole answer it would get alone, so
        // concurrent requests share no state. (Their latency is measured by the benchmark, not asserted here.)
        var generator = await host.Get<ModelGeneration>().GetAsync(version);
        var greedy = GenerationSettings.Greedy(40);
        var prompts = Enumerable.Range(0, 10).Select(i => $"Question {i}: how do I descale").ToList();
        var alone = new List<List<int>>();
        foreach (var prompt in prompts) alone.Add(await TokenIdsAsync(generator.GenerateAsync(prompt, greedy)));
        var together = await Task.WhenAll(prompts.Select(prompt => TokenIdsAsync(generator.GenerateAsync(prompt, greedy))));
        Assert.All(alone, ids => Assert.NotEmpty(ids));
        for (var i = 0; i < prompts.Count; i++) Assert.Equal(alone[i], together[i]);

        // Goal tests are judged on what the playground shows by default (sampled, not greedy), with a fixed seed so
        // the verdict does not change from one scoring to the next.
        GoalTest[] tests = [new() { Prompt = "Brightwater", MustContain = "zzqx-never" }];
        var scored = await ModelGeneration.RunGoalTestsAsync(generator, tests, CancellationToken.None);
        var again = await ModelGeneration.RunGoalTestsAsync(generator, tests, CancellationToken.None);
        Assert.Equal(scored[0].Text, again[0].Text);
        var greedyText = "Brightwater" + await TextAsync(generator.GenerateAsync("Brightwater", GenerationSettings.Greedy(48)));
        Assert.NotEqual(greedyText, scored[0].Text);

        // Fine-tuning: a second run starts from version 1 and becomes version 2.
        await using (var db = await host.DbAsync())
        {
            var p = await db.Projects.SingleAsync(x => x.Id == project.Id);
            (p.BaseVersionId, p.MaxSteps, p.EvalEvery) = (version.Id, 2, 2);
            await db.SaveChangesAsync();
        }
        var fineTune = await host.Get<RunScheduler>().StartAsync(project.Id, "tester");
        await host.Get<TrainingJob>().RunAsync(fineTune, default);
        await host.Get<ExportJob>().RunAsync(fineTune, default);
        await host.Get<RegisterJob>().RunAsync(fineTune, default);
        await using (var db = await host.DbAsync())
        {
            var run = await db.Runs.SingleAsync(r => r.Id == fineTune);
            Assert.True(run.Status == RunStatus.Succeeded, $"{run.Status}: {run.Error}");
            Assert.Equal(2, (await db.ModelVersions.SingleAsync(v => v.RunId == fineTune)).Number);
            Assert.Contains($"\"BaseVersionId\":{version.Id}", (await db.ModelVersions.SingleAsync(v => v.RunId == fineTune)).SettingsJson);
        }
    }

    [Fact]
    public async Task Cancel_keeps_a_checkpoint_and_resume_continues_from_it()
    {
        await using var host = await StudioTestHost.StartAsync();
        var project = await host.AddProjectAsync();
        await UploadHandwrittenSamplesAsync(host, project.Id);
        await using (var db = await host.DbAsync())
        {
            var p = await db.Projects.SingleAsync(x => x.Id == project.Id);
            (p.MaxSteps, p.EvalEvery, p.VocabSize) = (400, 4, 512);
            await db.SaveChangesAsync();
        }
        var scheduler = host.Get<RunScheduler>();
        var runId = await scheduler.StartAsync(project.Id, "tester");

        async Task RunUntilStepThenCancelAsync(int step)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var subscription = host.Get<RunNotifier>().Subscribe(runId, u =>
            {
                if (u.Event is Core.Training.TrainingStep s && s.Step >= step) reached.TrySetResult();
                return Task.CompletedTask;
            });
            var job = host.Get<TrainingJob>().RunAsync(runId, default);
            // A job that ends before the step (an error) is reported by the assertions below, not as a timeout here.
            await Task.WhenAny(reached.Task, job).WaitAsync(TimeSpan.FromMinutes(8));
            await scheduler.CancelAsync(runId);
            await job.WaitAsync(TimeSpan.FromMinutes(4));
        }

        await RunUntilStepThenCancelAsync(1);
        await using (var db = await host.DbAsync())
        {
            var run = await db.Runs.SingleAsync(r => r.Id == runId);
            Assert.True(run.Status == RunStatus.Cancelled, $"{run.Status}: {run.Error}");
            Assert.True(run.Step < 400);
        }
        Assert.True(Core.Training.RunFolder.At(host.Get<Options.StudioPaths>().Run(runId)).HasCheckpoint);

        await scheduler.ResumeAsync(runId);
        await RunUntilStepThenCancelAsync(1);

        await using (var db = await host.DbAsync())
        {
            var starts = (await db.RunEvents.Where(e => e.RunId == runId && e.Kind == "started").OrderBy(e => e.Id).Select(e => e.Json).ToListAsync())
                .Select(j => JsonDocument.Parse(j).RootElement.GetProperty("startStep").GetInt32()).ToList();
            Assert.Equal(2, starts.Count);
            Assert.Equal(0, starts[0]);
            Assert.True(starts[1] > 0, "the resumed run starts from the checkpoint, not from step 0");
            Assert.Equal(RunStatus.Cancelled, (await db.Runs.SingleAsync(r => r.Id == runId)).Status);
        }
    }
}
