using System.Text;
using System.Text.Json;
using SlmStudio.Core.Artifacts;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Export;
using SlmStudio.Core.Library;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Tests.Classification;

/// <summary>
/// Whole classification runs on a tiny intent set: stopped and continued with --resume (in the label phase and in the
/// language phase), and from a base model with LoRA (lineage, adapter in the export).
/// </summary>
public sealed class ClassificationRunResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("slm-classify-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteData()
    {
        var path = Path.Combine(_dir, "tickets.csv");
        var csv = new StringBuilder("text,label\n");
        foreach (var e in SyntheticIntents.Make(perLabel: 20, seed: 4)) csv.Append('"').Append(e.Text).Append("\",").Append(e.Label).Append('\n');
        File.WriteAllText(path, csv.ToString());
        return path;
    }

    private ClassificationRunOptions Options(string run, int maxSteps = 40) => new()
    {
        DataPath = WriteData(), RunDirectory = run, Preset = "tiny", MaxSteps = maxSteps, VocabSize = 300, ContextLength = 32,
        BatchSize = 8, EvalEvery = 5, LogEvery = 1, Seed = 3, Device = "cpu",
    };

    /// <summary>Collects the events and cancels the run when <paramref name="stopAt"/> says so (as Ctrl+C or the portal would).</summary>
    private sealed class Recorder(Func<ClassificationEvent, bool>? stopAt = null) : IProgress<ClassificationEvent>
    {
        public CancellationTokenSource Cancel { get; } = new();
        public List<ClassificationEvent> Events { get; } = [];

        public void Report(ClassificationEvent value)
        {
            lock (Events) Events.Add(value);
            if (stopAt?.Invoke(value) == true) Cancel.Cancel();
        }

        public List<ClassificationStepEvent> Steps(string phase) => [.. Events.OfType<ClassificationStepEvent>().Where(s => s.Phase == phase)];
    }

    [Fact]
    public void A_run_stopped_in_the_label_phase_continues_from_its_checkpoint_step()
    {
        var run = Path.Combine(_dir, "run");
        var first = new Recorder(e => e is ClassificationStepEvent { Phase: ClassificationEvent.LabelPhase, Step: 12 });
        Assert.ThrowsAny<OperationCanceledException>(() => new ClassificationRun(Options(run), first).Run(first.Cancel.Token));
        Assert.Equal(12, first.Steps(ClassificationEvent.LabelPhase)[^1].Step);
        Assert.Contains(first.Events, e => e is ClassificationCheckpointSaved { Step: 12 });
        Assert.True(File.Exists(Path.Combine(run, "checkpoint", "state.safetensors")));
        Assert.False(File.Exists(Path.Combine(run, "result.json")));
        var labelSteps = first.Steps(ClassificationEvent.LabelPhase)[0].MaxSteps;

        // Continued with the options it was started with, read back from its run.json.
        var second = new Recorder();
        var finished = new ClassificationRun(ClassificationRunOptions.Load(run), second).Run(resume: true, CancellationToken.None);
        var resumed = second.Steps(ClassificationEvent.LabelPhase);
        Assert.Equal(13, resumed[0].Step);
        Assert.Equal(labelSteps, resumed[^1].Step);
        Assert.Equal(labelSteps, finished.Steps);
        Assert.Empty(second.Steps(ClassificationEvent.LanguagePhase)); // the language phase had finished: not trained again
        Assert.DoesNotContain(second.Events, e => e is ClassificationMessage m && m.Text.StartsWith("Training a simple keyword model", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(run, "result.json")));
        Assert.True(File.Exists(Path.Combine(run, "classifier", ClassifierFolder.LabelsFile)));

        // A finished run has nothing to continue.
        var again = Assert.Throws<EngineException>(() => new ClassificationRun(ClassificationRunOptions.Load(run), new Recorder()).Run(resume: true, CancellationToken.None));
        Assert.Contains("already finished", again.Message);
    }

    [Fact]
    public void A_run_stopped_in_the_language_phase_continues_it_and_then_learns_the_labels()
    {
        var run = Path.Combine(_dir, "run");
        var first = new Recorder(e => e is ClassificationStepEvent { Phase: ClassificationEvent.LanguagePhase, Step: 6 });
        Assert.ThrowsAny<OperationCanceledException>(() => new ClassificationRun(Options(run), first).Run(first.Cancel.Token));
        Assert.Empty(first.Steps(ClassificationEvent.LabelPhase));
        var stoppedAt = first.Steps(ClassificationEvent.LanguagePhase)[^1].Step;

        var second = new Recorder();
        var finished = new ClassificationRun(ClassificationRunOptions.Load(run), second).Run(resume: true, CancellationToken.None);
        var language = second.Steps(ClassificationEvent.LanguagePhase);
        Assert.Equal(stoppedAt + 1, language[0].Step);
        Assert.NotEmpty(second.Steps(ClassificationEvent.LabelPhase));
        Assert.Equal(1, second.Steps(ClassificationEvent.LabelPhase)[0].Step);
        Assert.True(finished.Steps > 0);
    }

    [Fact]
    public void Resuming_a_folder_without_a_run_or_starting_over_an_existing_one_is_refused()
    {
        var empty = Path.Combine(_dir, "nothing");
        Assert.Contains("no classification run to continue", Assert.Throws<EngineException>(() => ClassificationRunOptions.Load(empty)).Message);
        Assert.Contains("no classification run to continue",
            Assert.Throws<EngineException>(() => new ClassificationRun(Options(empty), new Recorder()).Run(resume: true, CancellationToken.None)).Message);
    }

    [Fact]
    public void A_lora_run_on_a_base_model_records_its_lineage_and_the_export_carries_the_adapter()
    {
        var run = Path.Combine(_dir, "run");
        var options = Options(run, maxSteps: 6) with { BaseModel = TestPaths.TinyLlama, Preset = "auto", Lora = new LoraConfig { Rank = 4 } };
        var finished = new ClassificationRun(options, new Recorder()).Run(CancellationToken.None);
        Assert.Equal(6, finished.Steps);

        var lineage = BaseModelLineage.Read(Path.Combine(run, BaseModelLineage.FileName));
        Assert.NotNull(lineage);
        Assert.Equal(BaseModelLineage.Of(TestPaths.TinyLlama), lineage);
        Assert.Matches("^[0-9a-f]{64}$", lineage.WeightsSha256);
        foreach (var file in new[] { LoraAdapters.AdapterConfigFile, LoraAdapters.AdapterWeightsFile })
            Assert.True(File.Exists(Path.Combine(run, "classifier", LoraAdapters.FolderName, file)), $"classifier/{LoraAdapters.FolderName}/{file} is missing");

        var artifact = Path.Combine(_dir, "artifact");
        var export = ClassifierExporter.Export(run, artifact);
        Assert.True(export.Passed);
        foreach (var file in new[] { LoraAdapters.AdapterConfigFile, LoraAdapters.AdapterWeightsFile })
        {
            var relative = $"{LoraAdapters.FolderName}/{file}";
            Assert.Equal(File.ReadAllBytes(Path.Combine(run, "classifier", LoraAdapters.FolderName, file)), File.ReadAllBytes(Path.Combine(artifact, LoraAdapters.FolderName, file)));
            Assert.Contains(export.Files, f => f.Path == relative); // listed with its hash, so tampering is caught
        }
        var manifest = ArtifactManifest.Load(artifact);
        Assert.Equal(lineage, manifest.BaseModel);
        Assert.Equal(LoraAdapters.FolderName, manifest.Adapter);
        var card = File.ReadAllText(Path.Combine(artifact, "README.md"));
        Assert.Contains(lineage.WeightsSha256, card);
        Assert.Contains("SEQ_CLS", card);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(artifact, LoraAdapters.FolderName, LoraAdapters.AdapterConfigFile)));
        Assert.Equal("SEQ_CLS", config.RootElement.GetProperty("task_type").GetString());
    }

    [Fact]
    public void A_run_without_a_base_model_has_no_lineage_and_its_export_no_adapter()
    {
        var run = Path.Combine(_dir, "run");
        new ClassificationRun(Options(run, maxSteps: 6), new Recorder()).Run(CancellationToken.None);
        Assert.False(File.Exists(Path.Combine(run, BaseModelLineage.FileName)));
        var artifact = Path.Combine(_dir, "artifact");
        ClassifierExporter.Export(run, artifact);
        Assert.False(Directory.Exists(Path.Combine(artifact, LoraAdapters.FolderName)));
        Assert.Null(ArtifactManifest.Load(artifact).BaseModel);
    }
}
