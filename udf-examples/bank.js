// bank.js — account balances with a balance check.
// An account record holds integer bins (cents): `checking`, `savings`.
//
//   EXECUTE bank.deposit('checking', 500) ON test.accounts WHERE PK = 'alice'
//   EXECUTE bank.withdraw('checking', 200) ON test.accounts WHERE PK = 'alice'
//   EXECUTE bank.transfer('checking', 'savings', 100) ON test.accounts WHERE PK = 'alice'
//
// Errors use Aerospike's "<code>:<message>" convention, so clients see code 1001/1002/1003.

function checkAmount(amount) {
  if (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0) {
    throw new Error('1001:amount must be a positive integer number of cents');
  }
}

export function deposit(rec, account, amount) {
  checkAmount(amount);
  rec[account] = (rec[account] ?? 0) + amount;
  aerospike.update(rec);
  return rec[account];
}

export function withdraw(rec, account, amount) {
  checkAmount(amount);
  if (!aerospike.exists(rec)) throw new Error('1002:no such account');
  const balance = rec[account] ?? 0;
  if (balance < amount) throw new Error(`1003:insufficient funds: ${account} holds ${balance}, needs ${amount}`);
  rec[account] = balance - amount;
  aerospike.update(rec);
  return rec[account];
}

/** Moves money between two bins of one record; both change or neither does. */
export function transfer(rec, from, to, amount) {
  checkAmount(amount);
  if (!aerospike.exists(rec)) throw new Error('1002:no such account');
  const balance = rec[from] ?? 0;
  if (balance < amount) throw new Error(`1003:insufficient funds: ${from} holds ${balance}, needs ${amount}`);
  rec[from] = balance - amount;
  rec[to] = (rec[to] ?? 0) + amount;
  aerospike.update(rec);
  return { [from]: rec[from], [to]: rec[to] };
}
