sudo -n timeout -k 5 60.000 sh -c 'echo ok'
