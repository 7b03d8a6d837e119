using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;
using SlmStudio.Core.Data;
using SlmStudio.Core.Instruction;

namespace SlmStudio.Core.Tests.Instruction;

public sealed class InstructionDataTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("slm-instruction-data");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Csv_pairs_with_a_context_column_become_system_user_assistant_conversations()
    {
        var path = Path.Combine(_dir, "faq.csv");
        File.WriteAllText(path, "Q,A,context\n\"How long is leave?\",\"25 days a year.\",HR policy\n\"Who approves?\",\"Your manager.\",\n");

        var file = InstructionData.ReadFile(path, new InstructionColumns("Q", "A", "context"));

        Assert.Empty(file.Problems);
        Assert.Equal(2, file.Conversations.Count);
        var first = file.Conversations[0];
        Assert.Equal(["system", "user", "assistant"], first.Messages.Select(m => m.Role));
        Assert.Equal("HR policy", first.Messages[0].Content);
        Assert.Equal("How long is leave?", first.Question);
        Assert.Equal("25 days a year.", first.Answer);
        Assert.Equal(2, first.Row); // spreadsheet numbering: the header is row 1
        Assert.Equal(["user", "assistant"], file.Conversations[1].Messages.Select(m => m.Role)); // empty context: no system message
    }

    [Fact]
    public void Jsonl_messages_are_read_as_multi_turn_chats_and_bad_lines_are_named()
    {
        var path = Path.Combine(_dir, "chats.jsonl");
        File.WriteAllText(path, """
            {"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."},{"role":"user","content":"Leave?"},{"role":"assistant","content":"25 days."}]}
            {"messages":[{"role":"tool","content":"x"}]}
            {"messages":[{"role":"user","content":"Only a question"}]}
            """);

        var file = InstructionData.ReadFile(path, new InstructionColumns());

        var chat = Assert.Single(file.Conversations);
        Assert.Equal(5, chat.Messages.Count);
        Assert.Equal("Hi", chat.Question);
        Assert.Equal("25 days.", chat.Answer);
        Assert.Equal(["system", "user", "assistant", "user"], chat.Prompt.Select(m => m.Role));
        Assert.Contains(file.Problems, p => p.Row == 2 && p.Message.Contains("'tool'"));
        Assert.Contains(file.Problems, p => p.Row == 3 && p.Message.Contains("no assistant message"));
    }

    [Fact]
    public void Xlsx_first_sheet_is_read_with_shared_and_inline_strings_and_numbers()
    {
        var path = Path.Combine(_dir, "faq.xlsx");
        WriteWorkbook(path, [["question", "answer"], ["How many days?", 25], ["Where is the office?", "In Leeds."]]);

        var file = InstructionData.ReadFile(path, new InstructionColumns());

        Assert.Empty(file.Problems);
        Assert.Equal(2, file.Conversations.Count);
        Assert.Equal("How many days?", file.Conversations[0].Question);
        Assert.Equal("25", file.Conversations[0].Answer);
        Assert.Equal("In Leeds.", file.Conversations[1].Answer);
        Assert.Equal(3, file.Conversations[1].Row);
    }

    [Fact]
    public void A_missing_column_is_an_error_that_lists_the_columns()
    {
        var path = Path.Combine(_dir, "faq.csv");
        File.WriteAllText(path, "prompt,reply\nq,a\n");

        var file = InstructionData.ReadFile(path, new InstructionColumns());

        var error = Assert.Single(file.Problems, p => p.Severity == ProblemSeverity.Error && p.Message.Contains("'question'"));
        Assert.Contains("'prompt', 'reply'", error.Message);
        Assert.False(file.IsUsable);
    }

    [Fact]
    public void A_damaged_workbook_is_explained()
    {
        var path = Path.Combine(_dir, "broken.xlsx");
        File.WriteAllText(path, "not a zip");
        var file = InstructionData.ReadFile(path, new InstructionColumns());
        Assert.Contains(file.Problems, p => p.Severity == ProblemSeverity.Error && p.Message.Contains("Excel workbook"));
    }

    /// <summary>A workbook as Excel writes it: text in the shared string table (header) and inline (data), numbers as numbers.</summary>
    internal static void WriteWorkbook(string path, object[][] rows)
    {
        using var document = SpreadsheetDocument.Create(path, SpreadsheetDocumentType.Workbook);
        var workbook = document.AddWorkbookPart();
        workbook.Workbook = new Workbook();
        var sheetPart = workbook.AddNewPart<WorksheetPart>();
        var shared = workbook.AddNewPart<SharedStringTablePart>();
        shared.SharedStringTable = new SharedStringTable();
        var data = new SheetData();
        for (int r = 0; r < rows.Length; r++)
        {
            var row = new Row { RowIndex = (uint)(r + 1) };
            for (int c = 0; c < rows[r].Length; c++)
            {
                var reference = $"{(char)('A' + c)}{r + 1}";
                Cell cell = rows[r][c] switch
                {
                    int n => new Cell { CellReference = reference, CellValue = new CellValue(n) },
                    string s when r == 0 => SharedCell(shared.SharedStringTable, reference, s),
                    var v => new Cell { CellReference = reference, DataType = CellValues.InlineString, InlineString = new InlineString(new Text(v.ToString()!)) },
                };
                row.Append(cell);
            }
            data.Append(row);
        }
        sheetPart.Worksheet = new Worksheet(data);
        var sheets = workbook.Workbook.AppendChild(new Sheets());
        sheets.Append(new Sheet { Id = workbook.GetIdOfPart(sheetPart), SheetId = 1, Name = "FAQ" });
        workbook.Workbook.Save();

        static Cell SharedCell(SharedStringTable table, string reference, string text)
        {
            table.AppendChild(new SharedStringItem(new Text(text)));
            return new Cell { CellReference = reference, DataType = CellValues.SharedString, CellValue = new CellValue(table.Count() - 1) };
        }
    }
}

public sealed class InstructionDataReviewTests
{
    private static Conversation Pair(string q, string a, int row) => Conversation.Pair(q, a, null, row);

    [Fact]
    public void Empty_answers_and_duplicate_questions_with_different_answers_are_flagged_and_listed()
    {
        var pairs = Enumerable.Range(0, 12).Select(i => Pair($"Question {i}?", $"Answer {i}.", i + 2)).ToList();
        pairs.Add(Pair("How long is leave?", "", 20));
        pairs.Add(Pair("Where is the office?", "In Leeds.", 21));
        pairs.Add(Pair("where is  the office?", "In York.", 22));

        var review = InstructionDataReview.Of(pairs);

        Assert.True(review.CanTrain);
        var empty = Assert.Single(review.Findings, f => f.Kind == InstructionFindingKind.EmptyAnswer);
        Assert.Equal([20], empty.Rows);
        Assert.Contains("no answer", empty.Message);
        var conflict = Assert.Single(review.Findings, f => f.Kind == InstructionFindingKind.ConflictingAnswers);
        Assert.Equal([21, 22], conflict.Rows);
        Assert.Contains("\"Where is the office?\" (rows 21, 22)", conflict.Message);
        Assert.Equal(14, review.UsableRows);
    }

    [Fact]
    public void The_same_answer_twice_is_not_a_conflict()
    {
        var pairs = Enumerable.Range(0, 10).Select(i => Pair($"Q{i}", $"A{i}", i)).Append(Pair("Q1", "a1 ", 99)).ToList();
        Assert.DoesNotContain(InstructionDataReview.Of(pairs).Findings, f => f.Kind == InstructionFindingKind.ConflictingAnswers);
    }

    [Fact]
    public void Too_few_pairs_stops_training_with_a_plain_reason()
    {
        var review = InstructionDataReview.Of([Pair("Q", "A", 2), Pair("Q2", "", 3)]);
        Assert.False(review.CanTrain);
        var error = Assert.Single(review.Findings, f => f.Severity == ProblemSeverity.Error);
        Assert.Contains("only 1 usable question and answer", error.Message);
    }

    [Fact]
    public void Conversations_longer_than_the_context_are_flagged_with_the_longest()
    {
        var pairs = Enumerable.Range(0, 10).Select(i => Pair($"Q{i}", new string('x', i * 10), i + 2)).ToList();
        var review = InstructionDataReview.Of(pairs, c => c.Answer.Length, contextLength: 75);
        var finding = Assert.Single(review.Findings, f => f.Kind == InstructionFindingKind.LongerThanContext);
        Assert.Equal([10, 11], finding.Rows);
        Assert.Contains("the longest has 90 tokens", finding.Message);
    }
}
