using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Training;

public class TrainerBadInputTests
{
    private static EngineException Fails(TrainingOptions options, bool resume = false) =>
        Assert.Throws<EngineException>(() => new Trainer(options, new TrainingFixture.Recorder()).Run(resume, CancellationToken.None));

    [Fact]
    public void MissingDataIsExplained()
    {
        var dir = TestPaths.NewTempDir();
        var e = Fails(TrainingFixture.Options(Path.Combine(dir, "nothing.txt"), Path.Combine(dir, "run"), 5));
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void EmptyFileAndEmptyFolderAreExplained()
    {
        var dir = TestPaths.NewTempDir();
        File.WriteAllText(Path.Combine(dir, "empty.txt"), "  \n ");
        Assert.Contains("empty", Fails(TrainingFixture.Options(Path.Combine(dir, "empty.txt"), Path.Combine(dir, "run"), 5)).Message);
        var folder = Directory.CreateDirectory(Path.Combine(dir, "folder")).FullName;
        Assert.Contains("no .txt or .md files", Fails(TrainingFixture.Options(folder, Path.Combine(dir, "run2"), 5)).Message);
    }

    [Fact]
    public void CorpusSmallerThanOneContextWindowIsExplained()
    {
        var dir = TestPaths.NewTempDir();
        File.WriteAllText(Path.Combine(dir, "short.txt"), "A short note.\n\nAnother short line of text.");
        var e = Fails(TrainingFixture.Options(Path.Combine(dir, "short.txt"), Path.Combine(dir, "run"), 5));
        Assert.Contains("too short", e.Message);
        Assert.Contains("more characters", e.Message);
    }

    [Fact]
    public void UnknownPresetIsExplained()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir, lines: 200);
        var e = Fails(TrainingFixture.Options(data, Path.Combine(dir, "run"), 5) with { Preset = "gigantic" });
        Assert.Contains("Unknown preset 'gigantic'", e.Message);
        Assert.Contains("tiny", e.Message);
    }

    [Fact]
    public void NonUtf8TextIsExplained()
    {
        var dir = TestPaths.NewTempDir();
        File.WriteAllBytes(Path.Combine(dir, "latin1.txt"), [0x43, 0x61, 0x66, 0xE9, 0x20, 0xFF, 0xFE, 0x41]);
        Assert.Contains("not UTF-8", Fails(TrainingFixture.Options(Path.Combine(dir, "latin1.txt"), Path.Combine(dir, "run"), 5)).Message);
    }

    [Fact]
    public void CorruptCheckpointIsRefusedAndNothingIsDamaged()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir, lines: 300);
        var run = Path.Combine(dir, "run");
        var options = TrainingFixture.Options(data, run, maxSteps: 10, evalEvery: 10);
        new Trainer(options, new TrainingFixture.Recorder()).Run(false, CancellationToken.None);

        var checkpoint = RunFolder.At(run).CheckpointFile;
        var bytes = File.ReadAllBytes(checkpoint);
        File.WriteAllBytes(checkpoint, bytes[..(bytes.Length / 3)]);
        var model = File.ReadAllBytes(Path.Combine(run, "model", "model.safetensors"));
        var settings = File.ReadAllText(Path.Combine(run, "run.json"));

        var e = Fails(options with { MaxSteps = 20 }, resume: true);
        Assert.Contains("checkpoint of this run is damaged", e.Message);
        Assert.Equal(model, File.ReadAllBytes(Path.Combine(run, "model", "model.safetensors")));
        Assert.Equal(settings, File.ReadAllText(Path.Combine(run, "run.json")));
    }

    [Fact]
    public void CheckpointWithDamagedStateNamesTheCause()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir, lines: 300);
        var run = Path.Combine(dir, "run");
        var options = TrainingFixture.Options(data, run, maxSteps: 4, evalEvery: 4);
        new Trainer(options, new TrainingFixture.Recorder()).Run(false, CancellationToken.None);

        var checkpoint = RunFolder.At(run).CheckpointFile;
        var (tensors, metadata) = SlmStudio.Core.Models.SafetensorsFile.ReadWithMetadata(checkpoint);
        SlmStudio.Core.Models.SafetensorsFile.Write(checkpoint, tensors.Values, new Dictionary<string, string> { ["state"] = metadata["state"][..20] });

        var e = Fails(options with { MaxSteps = 8 }, resume: true);
        Assert.Contains("no readable training state", e.Message);
        Assert.Contains("The saved state is damaged", e.Message);
        Assert.IsType<System.Text.Json.JsonException>(e.InnerException, exactMatch: false);
    }

    [Fact]
    public void StartingOverAnExistingRunIsRefused()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir, lines: 300);
        var options = TrainingFixture.Options(data, Path.Combine(dir, "run"), maxSteps: 2, evalEvery: 2);
        new Trainer(options, new TrainingFixture.Recorder()).Run(false, CancellationToken.None);
        Assert.Contains("already holds a training run", Fails(options).Message);
    }

    [Fact]
    public void ResumeWithoutARunIsExplained()
    {
        var dir = TestPaths.NewTempDir();
        Assert.Contains("no run to resume", Fails(TrainingFixture.Options("", Path.Combine(dir, "run"), 5), resume: true).Message);
    }
}
